package materialize

import (
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
