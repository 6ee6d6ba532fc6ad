package materialize

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// Objects are what one run of a job creates. The Pod is created first; the
// others carry a controller ownerReference to it, filled in by whoever
// creates them once the pod's UID is known.
type Objects struct {
	Pod       *corev1.Pod
	ConfigMap *corev1.ConfigMap
	Service   *corev1.Service
	// Ingress is nil unless the job asks for one.
	Ingress *networkingv1.Ingress
}

// ConfError is an error of one Spark property: Materialize returns it (or
// wraps it) when a property's value cannot make a run, so that admission
// can name the field of the job at fault.
type ConfError struct {
	// Key is the Spark property, such as spark.driver.resource.gpu.vendor.
	Key string
	// Err says why.
	Err error
}

func (e *ConfError) Error() string { return e.Err.Error() }

func (e *ConfError) Unwrap() error { return e.Err }

func confErrorf(key, format string, args ...any) error {
	return &ConfError{Key: key, Err: fmt.Errorf(format, args...)}
}
