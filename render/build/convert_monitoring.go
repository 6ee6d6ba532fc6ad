package build

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// driverIngressOptions carries driverIngressOptions over: each entry is a
// Service (and, with ingressURLFormat, an Ingress) of the run.
func driverIngressOptions(in []operatorDriverIngress) []v1alpha1.DriverIngressConfiguration {
	var out []v1alpha1.DriverIngressConfiguration
	for _, o := range in {
		d := v1alpha1.DriverIngressConfiguration{
			ServicePort: o.ServicePort, ServicePortName: o.ServicePortName,
			ServiceAnnotations: o.ServiceAnnotations, ServiceLabels: o.ServiceLabels,
			IngressURLFormat: o.IngressURLFormat, IngressAnnotations: o.IngressAnnotations, IngressTLS: o.IngressTLS,
		}
		if o.ServiceType != nil {
			t := corev1.ServiceType(*o.ServiceType)
			d.ServiceType = &t
		}
		out = append(out, d)
	}
	return out
}
