package materialize

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

func exposeRun(t *testing.T, job *v1alpha1.SparkJob, opts Options) *Objects {
	t.Helper()
	id := runid.OfflineRun(job, "")
	id.Name = "app-run"
	objs, err := Materialize(job, id, opts)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// ingressView is what an Ingress routes: host, path, path type, backend,
// and the annotations that are not the run's own.
type ingressView struct {
	Name, Host, Path, PathType, Service string
	Port                                int32
	Annotations                         map[string]string
	TLS                                 []networkingv1.IngressTLS
}

func viewIngress(ing *networkingv1.Ingress) *ingressView {
	if ing == nil {
		return nil
	}
	r := ing.Spec.Rules[0]
	p := r.HTTP.Paths[0]
	a := map[string]string{}
	for k, v := range ing.Annotations {
		if !strings.HasPrefix(k, "sparkcd.io/") {
			a[k] = v
		}
	}
	return &ingressView{Name: ing.Name, Host: r.Host, Path: p.Path, PathType: string(*p.PathType),
		Service: p.Backend.Service.Name, Port: p.Backend.Service.Port.Number, Annotations: a, TLS: ing.Spec.TLS}
}

// TestUIIngressURLFormat follows the Operator's UI Ingress
// (driveringress.go createDriverIngressV1, web_ui.go configWebUI): the
// format's host, its path as a regular expression with nginx's rewrite,
// spark.ui.proxyBase and proxyRedirectUri unless sparkConf has them.
func TestUIIngressURLFormat(t *testing.T) {
	tls := []networkingv1.IngressTLS{{Hosts: []string{"s.example.com"}, SecretName: "t"}}
	tests := []struct {
		name       string
		ui         *v1alpha1.SparkUIConfiguration
		sparkConf  map[string]string
		flag       string
		want       *ingressView
		wantProxy  [2]string
		wantUISvc  bool
		wantSvcTyp corev1.ServiceType
	}{
		{name: "nothing asked: no ingress"},
		{name: "the flag's default, with a path", flag: "s.example.com/{{$appNamespace}}/{{ $appName }}",
			want: &ingressView{Name: "app-run-ui", Host: "s.example.com", Path: "/ns/app(/|$)(.*)", PathType: "ImplementationSpecific",
				Service: "app-run-driver-svc", Port: 4040, Annotations: map[string]string{rewriteAnnotation: "/$2"}},
			wantProxy: [2]string{"/ns/app", "/"}},
		{name: "the job's format wins over the flag, host only: no rewrite, no proxy base",
			ui:   &v1alpha1.SparkUIConfiguration{IngressURLFormat: "https://{{$appName}}.{{$appNamespace}}.example.com", IngressAnnotations: map[string]string{"a": "b"}, IngressTLS: tls},
			flag: "other.example.com",
			want: &ingressView{Name: "app-run-ui", Host: "app.ns.example.com", PathType: "ImplementationSpecific",
				Service: "app-run-driver-svc", Port: 4040, Annotations: map[string]string{"a": "b"}, TLS: tls}},
		{name: "sparkConf's proxy settings stay", flag: "s.example.com/x",
			sparkConf: map[string]string{"spark.ui.proxyBase": "/mine", "spark.ui.proxyRedirectUri": "https://s.example.com"},
			want: &ingressView{Name: "app-run-ui", Host: "s.example.com", Path: "/x(/|$)(.*)", PathType: "ImplementationSpecific",
				Service: "app-run-driver-svc", Port: 4040, Annotations: map[string]string{rewriteAnnotation: "/$2"}},
			wantProxy: [2]string{"/mine", "https://s.example.com"}},
		{name: "ingressHost wins over the flag",
			ui:   &v1alpha1.SparkUIConfiguration{IngressHost: "h.example.com"},
			flag: "s.example.com/x",
			want: &ingressView{Name: "app-run-ui", Host: "h.example.com", Path: "/", PathType: "Prefix",
				Service: "app-run-driver-svc", Port: 4040, Annotations: map[string]string{}}},
		{name: "serviceType: the UI's own service, behind the ingress",
			ui: &v1alpha1.SparkUIConfiguration{ServiceType: ref(corev1.ServiceTypeNodePort), ServicePort: ref(int32(80)),
				IngressURLFormat: "s.example.com"},
			want: &ingressView{Name: "app-run-ui", Host: "s.example.com", PathType: "ImplementationSpecific",
				Service: "app-run-ui-svc", Port: 80, Annotations: map[string]string{}},
			wantUISvc: true, wantSvcTyp: corev1.ServiceTypeNodePort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := monitoredJob(nil)
			job.Spec.SparkUIOptions, job.Spec.SparkConf = tt.ui, tt.sparkConf
			objs := exposeRun(t, job, Options{IngressURLFormat: tt.flag})
			if diff := cmp.Diff(tt.want, viewIngress(objs.Ingress)); diff != "" {
				t.Errorf("ingress (-want +got):\n%s", diff)
			}
			props := parseProperties(objs.ConfigMap.Data[sparkPropertiesFile])
			if got := [2]string{props["spark.ui.proxyBase"], props["spark.ui.proxyRedirectUri"]}; got != tt.wantProxy {
				t.Errorf("proxyBase, proxyRedirectUri = %q, want %q", got, tt.wantProxy)
			}
			if (objs.UIService != nil) != tt.wantUISvc {
				t.Fatalf("UI service = %v, want one: %v", objs.UIService, tt.wantUISvc)
			}
			if objs.UIService != nil && objs.UIService.Spec.Type != tt.wantSvcTyp {
				t.Errorf("UI service type = %q, want %q", objs.UIService.Spec.Type, tt.wantSvcTyp)
			}
		})
	}
}

// TestUIService: with serviceType, the UI gets a service of its own as the
// Operator's createWebUIService makes it (type, servicePort to the UI
// port, the UI's labels and annotations, the driver as selector), and the
// headless driver service stays Spark's.
func TestUIService(t *testing.T) {
	job := monitoredJob(nil)
	job.Spec.SparkConf = map[string]string{"spark.ui.port": "4041"}
	job.Spec.SparkUIOptions = &v1alpha1.SparkUIConfiguration{ServiceType: ref(corev1.ServiceTypeLoadBalancer),
		ServicePort: ref(int32(80)), ServicePortName: ref("http"),
		ServiceLabels: map[string]string{"expose": "ui"}, ServiceAnnotations: map[string]string{"lb": "internal"}}
	objs := exposeRun(t, job, DefaultOptions())
	ui := objs.UIService
	if ui == nil {
		t.Fatal("no UI service")
	}
	want := corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
		Selector: map[string]string{v1alpha1.LabelSparkAppSelector: objs.Pod.Labels[v1alpha1.LabelSparkAppSelector], v1alpha1.LabelSparkRole: v1alpha1.RoleDriver},
		Ports:    []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(4041)}}}
	if diff := cmp.Diff(want, ui.Spec); diff != "" {
		t.Errorf("UI service spec (-want +got):\n%s", diff)
	}
	if ui.Name != "app-run-ui-svc" || ui.Labels["expose"] != "ui" || ui.Annotations["lb"] != "internal" {
		t.Errorf("UI service %s labels %v annotations %v", ui.Name, ui.Labels, ui.Annotations)
	}
	h := objs.Service
	if h.Spec.ClusterIP != corev1.ClusterIPNone || h.Labels["expose"] != "" || h.Annotations["lb"] != "" {
		t.Errorf("headless service took the UI's settings: clusterIP %q labels %v annotations %v", h.Spec.ClusterIP, h.Labels, h.Annotations)
	}
	if p := h.Spec.Ports[2]; p.Name != uiPortName || p.Port != 4041 {
		t.Errorf("headless service UI port = %+v, want Spark's spark-ui 4041", p)
	}
}

// TestDriverIngressOptions follows createDriverIngressServiceFromConfiguration
// and createDriverIngress: per entry a service "<name>-driver-<port>" of
// the port to the same port (name default driver-ing-<port>, type default
// ClusterIP) and, with a format, an Ingress "<name>-ing-<port>".
func TestDriverIngressOptions(t *testing.T) {
	job := monitoredJob(nil)
	job.Spec.DriverIngressOptions = []v1alpha1.DriverIngressConfiguration{
		{ServicePort: ref(int32(15002)), ServiceAnnotations: map[string]string{"o": "w"}, ServiceLabels: map[string]string{"l": "v"}},
		{ServicePort: ref(int32(8888)), ServicePortName: ref("nb"), ServiceType: ref(corev1.ServiceTypeNodePort),
			IngressURLFormat: "nb.example.com/{{$appName}}", IngressAnnotations: map[string]string{"x": "y"}},
	}
	objs := exposeRun(t, job, DefaultOptions())
	if len(objs.DriverServices) != 2 || len(objs.DriverIngresses) != 1 {
		t.Fatalf("got %d services and %d ingresses, want 2 and 1", len(objs.DriverServices), len(objs.DriverIngresses))
	}
	type svcView struct {
		Name string
		Type corev1.ServiceType
		Port corev1.ServicePort
		L, A string
	}
	var got []svcView
	for _, s := range objs.DriverServices {
		got = append(got, svcView{s.Name, s.Spec.Type, s.Spec.Ports[0], s.Labels["l"], s.Annotations["o"]})
	}
	want := []svcView{
		{"app-run-driver-15002", corev1.ServiceTypeClusterIP, corev1.ServicePort{Name: "driver-ing-15002", Protocol: corev1.ProtocolTCP, Port: 15002, TargetPort: intstr.FromInt32(15002)}, "v", "w"},
		{"app-run-driver-8888", corev1.ServiceTypeNodePort, corev1.ServicePort{Name: "nb", Protocol: corev1.ProtocolTCP, Port: 8888, TargetPort: intstr.FromInt32(8888)}, "", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("services (-want +got):\n%s", diff)
	}
	wantIng := &ingressView{Name: "app-run-ing-8888", Host: "nb.example.com", Path: "/app(/|$)(.*)", PathType: "ImplementationSpecific",
		Service: "app-run-driver-8888", Port: 8888, Annotations: map[string]string{"x": "y", rewriteAnnotation: "/$2"}}
	if diff := cmp.Diff(wantIng, viewIngress(objs.DriverIngresses[0])); diff != "" {
		t.Errorf("ingress (-want +got):\n%s", diff)
	}

	for name, opts := range map[string][]v1alpha1.DriverIngressConfiguration{
		"no port":      {{}},
		"port twice":   {{ServicePort: ref(int32(9000))}, {ServicePort: ref(int32(9000))}},
		"the UI port":  {{ServicePort: ref(int32(4040))}},
		"not a URL":    {{ServicePort: ref(int32(9000)), IngressURLFormat: "http://%zz"}},
		"with no host": {{ServicePort: ref(int32(9000)), IngressURLFormat: "/only/a/path"}},
	} {
		job.Spec.DriverIngressOptions = opts
		_, err := Materialize(job, runid.OfflineRun(job, ""), DefaultOptions())
		if err == nil || !strings.Contains(err.Error(), "spec.driverIngressOptions[") {
			t.Errorf("%s: error = %v, want one naming the entry", name, err)
		}
	}
}

// TestDriverPDB follows the Operator's createDriverPDBObject: named as the
// driver pod, minAvailable 1, selecting the driver; owned by the driver.
func TestDriverPDB(t *testing.T) {
	job := monitoredJob(nil)
	if objs := exposeRun(t, job, DefaultOptions()); objs.PodDisruptionBudget != nil {
		t.Fatal("a PodDisruptionBudget without driverPodDisruptionBudget")
	}
	job.Spec.DriverPodDisruptionBudget = ref(false)
	if objs := exposeRun(t, job, DefaultOptions()); objs.PodDisruptionBudget != nil {
		t.Fatal("a PodDisruptionBudget with driverPodDisruptionBudget false")
	}
	job.Spec.DriverPodDisruptionBudget = ref(true)
	objs := exposeRun(t, job, DefaultOptions())
	pdb := objs.PodDisruptionBudget
	if pdb == nil || pdb.Name != objs.Pod.Name || pdb.Spec.MinAvailable.IntValue() != 1 {
		t.Fatalf("PodDisruptionBudget = %+v, want minAvailable 1 named as the driver", pdb)
	}
	for k, v := range pdb.Spec.Selector.MatchLabels {
		if objs.Pod.Labels[k] != v {
			t.Errorf("selector %s=%s does not select the driver (labels %v)", k, v, objs.Pod.Labels)
		}
	}
	objs.Pod.UID = types.UID("uid-1")
	SetDriverOwner(objs, objs.Pod)
	for _, d := range objs.Dependents() {
		if refs := d.GetOwnerReferences(); len(refs) != 1 || refs[0].UID != "uid-1" {
			t.Errorf("%T %s owner references = %+v, want the driver", d, d.GetName(), refs)
		}
	}
}

func TestCheckIngressURLFormat(t *testing.T) {
	for format, ok := range map[string]bool{
		"": true, "spark.example.com/{{$appNamespace}}/{{$appName}}": true, "https://{{ $appId }}.example.com": true,
		"/only/a/path": false, "http://%zz": false,
	} {
		if err := CheckIngressURLFormat(format); (err == nil) != ok {
			t.Errorf("CheckIngressURLFormat(%q) = %v, want ok %v", format, err, ok)
		}
	}
}
