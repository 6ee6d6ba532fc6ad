package materialize

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
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
	// UIService is the Spark UI's own Service, of sparkUIOptions.serviceType;
	// nil unless that is set.
	UIService *corev1.Service
	// DriverServices and DriverIngresses are those of driverIngressOptions.
	DriverServices  []*corev1.Service
	DriverIngresses []*networkingv1.Ingress
	// PodDisruptionBudget keeps the driver from eviction, when the job sets
	// driverPodDisruptionBudget.
	PodDisruptionBudget *policyv1.PodDisruptionBudget
	// PodGroup is the run's Volcano or scheduler-plugins PodGroup, nil
	// unless the job's batchScheduler needs one.
	PodGroup *unstructured.Unstructured
	// Executor is an executor pod as the driver will create it from the
	// template: sparkcd never creates it, admission judges it (Pod
	// Security). It is no dependent.
	Executor *corev1.Pod
}

// Dependent is one object the driver pod owns.
type Dependent interface {
	metav1.Object
	runtime.Object
}

// Dependents are the objects the run creates after its driver pod and the
// pod owns: the ConfigMap, the Service, then the optional ones, the
// batch scheduler's PodGroup last.
func (o *Objects) Dependents() []Dependent {
	var out []Dependent
	if o.ConfigMap != nil {
		out = append(out, o.ConfigMap)
	}
	if o.Service != nil {
		out = append(out, o.Service)
	}
	if o.UIService != nil {
		out = append(out, o.UIService)
	}
	if o.Ingress != nil {
		out = append(out, o.Ingress)
	}
	for _, s := range o.DriverServices {
		out = append(out, s)
	}
	for _, i := range o.DriverIngresses {
		out = append(out, i)
	}
	if o.PodDisruptionBudget != nil {
		out = append(out, o.PodDisruptionBudget)
	}
	if o.PodGroup != nil {
		out = append(out, o.PodGroup)
	}
	return out
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
