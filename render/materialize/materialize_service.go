package materialize

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/sparkconf"
	"github.com/sparkcd/sparkcd/runid"
)

// uiServicePort is the UI's port on the service: sparkUIOptions.servicePort,
// else the UI port.
func (m *materializer) uiServicePort() (int32, string) {
	port, name := m.uiPort, uiPortName
	if ui := m.job.Spec.SparkUIOptions; ui != nil {
		if ui.ServicePort != nil {
			port = *ui.ServicePort
		}
		if ui.ServicePortName != nil && *ui.ServicePortName != "" {
			name = *ui.ServicePortName
		}
	}
	return port, name
}

// service is the headless driver service of DriverServiceFeatureStep: the
// executors reach the driver through it (spark.driver.host), and the UI is
// served on it.
func (m *materializer) service() (*corev1.Service, error) {
	spec := &m.job.Spec
	policy, families, err := m.serviceIPFamilies()
	if err != nil {
		return nil, err
	}
	var uiLabels, uiAnnotations map[string]string
	uiPort, uiName := m.uiServicePort()
	if ui := spec.SparkUIOptions; ui != nil && ui.ServiceType != nil {
		// The UI has a service of its own (uiService); this one stays Spark's.
		uiPort, uiName = m.uiPort, uiPortName
	} else if ui != nil {
		uiLabels, uiAnnotations = ui.ServiceLabels, ui.ServiceAnnotations
	}
	return &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      m.serviceName,
			Namespace: m.job.Namespace,
			Labels: mergeMaps(
				m.prefixed("spark.kubernetes.driver.service.label."),
				spec.Driver.ServiceLabels, uiLabels, m.runLabels()),
			Annotations: mergeMaps(
				m.prefixed("spark.kubernetes.driver.service.annotation."),
				spec.Driver.ServiceAnnotations, uiAnnotations, m.runAnnotations()),
		},
		Spec: corev1.ServiceSpec{
			ClusterIP:      corev1.ClusterIPNone,
			IPFamilyPolicy: policy,
			IPFamilies:     families,
			Selector: map[string]string{
				v1alpha1.LabelSparkAppSelector: m.id.AppID,
				v1alpha1.LabelSparkRole:        v1alpha1.RoleDriver,
			},
			Ports: []corev1.ServicePort{
				{Name: driverPortName, Protocol: corev1.ProtocolTCP, Port: sparkconf.DefaultDriverPort, TargetPort: intstr.FromInt32(sparkconf.DefaultDriverPort)},
				{Name: blockManagerPortName, Protocol: corev1.ProtocolTCP, Port: sparkconf.DefaultBlockManagerPort, TargetPort: intstr.FromInt32(sparkconf.DefaultBlockManagerPort)},
				{Name: uiName, Protocol: corev1.ProtocolTCP, Port: uiPort, TargetPort: intstr.FromInt32(m.uiPort)},
			},
		},
	}, nil
}

// ingress exposes the UI on sparkUIOptions.ingressHost under the path
// prefix, when a host is set.
func (m *materializer) ingress() *networkingv1.Ingress {
	ui := m.job.Spec.SparkUIOptions
	if ui == nil || ui.IngressHost == "" {
		return nil
	}
	port, _ := m.uiServicePort()
	pathType := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{
		TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        runid.IngressName(m.id.Name),
			Namespace:   m.job.Namespace,
			Labels:      m.runLabels(),
			Annotations: mergeMaps(ui.IngressAnnotations, m.runAnnotations()),
		},
		Spec: networkingv1.IngressSpec{
			Rules: []networkingv1.IngressRule{{
				Host: ui.IngressHost,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{
						Path:     m.ingressPath(),
						PathType: &pathType,
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: m.serviceName,
							Port: networkingv1.ServiceBackendPort{Number: port},
						}},
					}},
				}},
			}},
		},
	}
	if ui.IngressClassName != nil && *ui.IngressClassName != "" {
		class := *ui.IngressClassName
		ing.Spec.IngressClassName = &class
	}
	for _, t := range ui.IngressTLS {
		ing.Spec.TLS = append(ing.Spec.TLS, *t.DeepCopy())
	}
	return ing
}
