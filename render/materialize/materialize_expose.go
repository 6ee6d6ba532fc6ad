package materialize

import (
	"cmp"
	"fmt"
	"net/url"
	"regexp"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

// What the Spark Operator creates beside the driver to reach it — the UI's
// own Service, Ingresses from an URL format, driverIngressOptions, the
// driver's PodDisruptionBudget — made for each run and owned by its driver
// pod. docs/monitoring.md compares them with the Operator's.
const (
	uiServiceSuffix = "-ui-svc"
	// rewriteAnnotation is what the Operator sets on an Ingress serving
	// under a path: ingress-nginx strips the path before the UI sees it.
	rewriteAnnotation = "nginx.ingress.kubernetes.io/rewrite-target"
)

// The Operator's placeholders of an ingress URL format, spaces allowed
// inside the braces.
var (
	urlAppName      = regexp.MustCompile(`{{\s*[$]appName\s*}}`)
	urlAppNamespace = regexp.MustCompile(`{{\s*[$]appNamespace\s*}}`)
	urlAppID        = regexp.MustCompile(`{{\s*[$]appId\s*}}`)
)

// expose adds the optional objects to a run's objects.
func (m *materializer) expose(objs *Objects) error {
	objs.UIService = m.uiService()
	ing, err := m.uiIngress(objs)
	if err != nil {
		return err
	}
	objs.Ingress = ing
	if err := m.driverIngresses(objs); err != nil {
		return err
	}
	objs.PodDisruptionBudget = m.driverPDB()
	return nil
}

// uiURLFormat is the URL format of the UI's Ingress: the job's
// sparkUIOptions.ingressURLFormat, else sparkcd's --ingress-url-format;
// none when the job sets ingressHost, which wins.
func (m *materializer) uiURLFormat() string {
	ui := m.job.Spec.SparkUIOptions
	if ui != nil && ui.IngressHost != "" {
		return ""
	}
	if ui != nil && ui.IngressURLFormat != "" {
		return ui.IngressURLFormat
	}
	return m.opts.IngressURLFormat
}

// ingressURL fills in a URL format for the run (see expandURLFormat).
func (m *materializer) ingressURL(field, format string) (*url.URL, error) {
	u, err := expandURLFormat(format, m.job.Name, m.job.Namespace, m.id.AppID)
	if err != nil {
		return nil, fmt.Errorf("job '%s' has %s %w", m.job.Name, field, err)
	}
	return u, nil
}

// expandURLFormat fills in a URL format as the Operator does: the
// application's name and namespace and its app id, then http:// when no
// scheme is given. The URL must name a host.
func expandURLFormat(format, name, namespace, appID string) (*url.URL, error) {
	s := urlAppName.ReplaceAllLiteralString(format, name)
	s = urlAppNamespace.ReplaceAllLiteralString(s, namespace)
	s = urlAppID.ReplaceAllLiteralString(s, appID)
	u, err := url.Parse(s)
	if err == nil && u.Scheme == "" {
		u, err = url.Parse("http://" + s)
	}
	if err != nil {
		return nil, fmt.Errorf("'%s', which is not a URL: %w", format, err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("'%s', which names no host", format)
	}
	return u, nil
}

// CheckIngressURLFormat reports whether format, filled in for some job,
// is a URL with a host, as --ingress-url-format must be.
func CheckIngressURLFormat(format string) error {
	if format == "" {
		return nil
	}
	if _, err := expandURLFormat(format, "app", "namespace", "spark-0"); err != nil {
		return fmt.Errorf("--ingress-url-format is %w", err)
	}
	return nil
}

// addURLProperties sets spark.ui.proxyBase to the path of the UI's URL and
// spark.ui.proxyRedirectUri to "/", unless sparkConf sets them, as the
// Operator does when its --ingress-url-format has a path.
func (m *materializer) addURLProperties() error {
	format := m.uiURLFormat()
	if format == "" {
		return nil
	}
	u, err := m.ingressURL("sparkUIOptions.ingressURLFormat", format)
	if err != nil || u.Path == "" {
		return err
	}
	if _, ok := m.props["spark.ui.proxyBase"]; !ok {
		m.props["spark.ui.proxyBase"] = u.Path
	}
	if _, ok := m.props["spark.ui.proxyRedirectUri"]; !ok {
		m.props["spark.ui.proxyRedirectUri"] = "/"
	}
	return nil
}

// uiService is the UI's own Service when sparkUIOptions.serviceType is
// set, as the Operator creates one: the UI port only, the UI's labels and
// annotations. The headless driver service stays as Spark makes it.
func (m *materializer) uiService() *corev1.Service {
	ui := m.job.Spec.SparkUIOptions
	if ui == nil || ui.ServiceType == nil {
		return nil
	}
	port, name := m.uiServicePort()
	return m.driverService(m.id.Name+uiServiceSuffix, *ui.ServiceType, ui.ServiceLabels, ui.ServiceAnnotations,
		corev1.ServicePort{Name: name, Protocol: corev1.ProtocolTCP, Port: port, TargetPort: intstr.FromInt32(m.uiPort)})
}

func (m *materializer) driverService(name string, typ corev1.ServiceType, labels, annotations map[string]string, port corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   m.job.Namespace,
			Labels:      mergeMaps(labels, m.runLabels()),
			Annotations: mergeMaps(annotations, m.runAnnotations()),
		},
		Spec: corev1.ServiceSpec{
			Type: typ,
			Selector: map[string]string{
				v1alpha1.LabelSparkAppSelector: m.id.AppID,
				v1alpha1.LabelSparkRole:        v1alpha1.RoleDriver,
			},
			Ports: []corev1.ServicePort{port},
		},
	}
}

// uiIngress is the UI's Ingress: from ingressHost and ingressPath, or
// from an URL format as the Operator makes it. It leads to the UI's own
// service when there is one.
func (m *materializer) uiIngress(objs *Objects) (*networkingv1.Ingress, error) {
	ing := m.ingress()
	format := m.uiURLFormat()
	if ing == nil && format != "" {
		u, err := m.ingressURL("sparkUIOptions.ingressURLFormat", format)
		if err != nil {
			return nil, err
		}
		port, _ := m.uiServicePort()
		var ui v1alpha1.SparkUIConfiguration
		if p := m.job.Spec.SparkUIOptions; p != nil {
			ui = *p
		}
		ing = m.urlIngress(runid.IngressName(m.id.Name), u, m.serviceName, port, ui.IngressAnnotations, ui.IngressTLS)
	}
	if ing != nil && objs.UIService != nil {
		ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name = objs.UIService.Name
	}
	return ing, nil
}

// urlIngress is an Ingress of the Operator's form: the URL's host; under a
// path, an ImplementationSpecific regular expression keeping the rest of
// the path in $2 and ingress-nginx's rewrite to it.
func (m *materializer) urlIngress(name string, u *url.URL, service string, port int32, annotations map[string]string, tls []networkingv1.IngressTLS) *networkingv1.Ingress {
	path := u.Path
	extra := map[string]string{}
	if path != "" && path != "/" {
		path += "(/|$)(.*)"
		extra[rewriteAnnotation] = "/$2"
	}
	pathType := networkingv1.PathTypeImplementationSpecific
	ing := &networkingv1.Ingress{
		TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   m.job.Namespace,
			Labels:      m.runLabels(),
			Annotations: mergeMaps(annotations, extra, m.runAnnotations()),
		},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{
			Host: u.Hostname(),
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{
					Path:     path,
					PathType: &pathType,
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
						Name: service, Port: networkingv1.ServiceBackendPort{Number: port},
					}},
				}},
			}},
		}}},
	}
	if ui := m.job.Spec.SparkUIOptions; ui != nil && ui.IngressClassName != nil && *ui.IngressClassName != "" {
		class := *ui.IngressClassName
		ing.Spec.IngressClassName = &class
	}
	for _, t := range tls {
		ing.Spec.TLS = append(ing.Spec.TLS, *t.DeepCopy())
	}
	return ing
}

// driverIngresses makes, per driverIngressOptions entry, a Service
// "<run>-driver-<port>" for that port of the driver and, with an URL
// format, an Ingress "<run>-ing-<port>" to it, as the Operator does.
func (m *materializer) driverIngresses(objs *Objects) error {
	seen := map[int32]bool{}
	for i, o := range m.job.Spec.DriverIngressOptions {
		field := fmt.Sprintf("spec.driverIngressOptions[%d]", i)
		if o.ServicePort == nil || *o.ServicePort < 1 || *o.ServicePort > 65535 {
			return fmt.Errorf("job '%s' has no valid %s.servicePort: it is both the service's and the driver's port", m.job.Name, field)
		}
		port := *o.ServicePort
		if seen[port] || port == m.uiPort {
			return fmt.Errorf("job '%s' exposes port %d twice (%s.servicePort): each port gets one Service and Ingress", m.job.Name, port, field)
		}
		seen[port] = true
		name := fmt.Sprintf("driver-ing-%d", port)
		if o.ServicePortName != nil && *o.ServicePortName != "" {
			name = *o.ServicePortName
		}
		typ := cmp.Or(ptrValue(o.ServiceType), corev1.ServiceTypeClusterIP)
		svc := m.driverService(fmt.Sprintf("%s-driver-%d", m.id.Name, port), typ, o.ServiceLabels, o.ServiceAnnotations,
			corev1.ServicePort{Name: name, Protocol: corev1.ProtocolTCP, Port: port, TargetPort: intstr.FromInt32(port)})
		objs.DriverServices = append(objs.DriverServices, svc)
		if o.IngressURLFormat == "" {
			continue
		}
		u, err := m.ingressURL(field+".ingressURLFormat", o.IngressURLFormat)
		if err != nil {
			return err
		}
		objs.DriverIngresses = append(objs.DriverIngresses,
			m.urlIngress(fmt.Sprintf("%s-ing-%d", m.id.Name, port), u, svc.Name, port, o.IngressAnnotations, o.IngressTLS))
	}
	return nil
}

func ptrValue[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// driverPDB is the Operator's driver PodDisruptionBudget: named as the
// driver pod, minAvailable 1, selecting this run's driver. The driver owns
// it, so it goes when the driver goes; eviction of a finished driver is
// never blocked by it (the eviction API ignores budgets for pods that
// have ended).
func (m *materializer) driverPDB() *policyv1.PodDisruptionBudget {
	if p := m.job.Spec.DriverPodDisruptionBudget; p == nil || !*p {
		return nil
	}
	one := intstr.FromInt32(1)
	return &policyv1.PodDisruptionBudget{
		TypeMeta: metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        m.podName,
			Namespace:   m.job.Namespace,
			Labels:      m.runLabels(),
			Annotations: m.runAnnotations(),
		},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: &one,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{
				v1alpha1.LabelSparkAppSelector: m.id.AppID,
				v1alpha1.LabelSparkRole:        v1alpha1.RoleDriver,
			}},
		},
	}
}
