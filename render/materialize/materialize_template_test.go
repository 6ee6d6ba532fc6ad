package materialize

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

func templateTestJob() *v1alpha1.SparkJob {
	s := func(v string) *string { return &v }
	return &v1alpha1.SparkJob{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "spark"},
		Spec: v1alpha1.SparkJobSpec{
			Type:                v1alpha1.ScalaApplication,
			SparkVersion:        "3.5.3",
			Image:               s("apache/spark:3.5.3"),
			MainClass:           s("org.apache.spark.examples.SparkPi"),
			MainApplicationFile: s("local:///opt/spark/examples/jars/spark-examples.jar"),
		},
	}
}

func materializeTest(t *testing.T, job *v1alpha1.SparkJob) (*Objects, *corev1.Pod) {
	t.Helper()
	objs, err := Materialize(job, runid.OfflineRun(job, goldenRevision), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	template := &corev1.Pod{}
	if err := yaml.UnmarshalStrict([]byte(objs.ConfigMap.Data[podTemplateKey]), template); err != nil {
		t.Fatal(err)
	}
	return objs, template
}

func containerNames(cs []corev1.Container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

// TestTemplateSparkContainer checks which template container becomes the
// Spark container: the one of Spark's name, else the first; it is always
// first and named as Spark names it, the others follow in order.
func TestTemplateSparkContainer(t *testing.T) {
	tests := []struct {
		name       string
		containers []corev1.Container
		wantDriver []string
		wantEnv    string
	}{
		{name: "no containers", wantDriver: []string{driverContainerName}},
		{name: "named", containers: []corev1.Container{{Name: "side"}, {Name: driverContainerName, WorkingDir: "/w"}},
			wantDriver: []string{driverContainerName, "side"}, wantEnv: "/w"},
		{name: "first when none is named", containers: []corev1.Container{{Name: "main", WorkingDir: "/m"}, {Name: "side"}},
			wantDriver: []string{driverContainerName, "side"}, wantEnv: "/m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := templateTestJob()
			job.Spec.Driver.Template = &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: tt.containers}}
			objs, _ := materializeTest(t, job)
			if diff := cmp.Diff(tt.wantDriver, containerNames(objs.Pod.Spec.Containers)); diff != "" {
				t.Errorf("containers (-want +got):\n%s", diff)
			}
			if got := objs.Pod.Spec.Containers[0].WorkingDir; got != tt.wantEnv {
				t.Errorf("Spark container workingDir = %q, want %q (the template's Spark container)", got, tt.wantEnv)
			}
		})
	}
}

// TestTemplateMerge checks who wins where a template and the job both say
// something: Spark's settings and the typed fields win, the template keeps
// the rest.
func TestTemplateMerge(t *testing.T) {
	job := templateTestJob()
	job.Spec.Driver.Env = []corev1.EnvVar{{Name: "A", Value: "typed"}}
	job.Spec.Driver.Labels = map[string]string{"team": "typed"}
	job.Spec.Driver.NodeSelector = map[string]string{"pool": "typed"}
	host := true
	job.Spec.Driver.HostNetwork = &host
	job.Spec.Driver.Template = &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"team": "template", "tier": "batch"}},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyAlways,
			DNSPolicy:     corev1.DNSDefault,
			NodeSelector:  map[string]string{"pool": "template", "os": "linux"},
			Containers: []corev1.Container{{
				Name:  driverContainerName,
				Image: "ignored:1",
				Env:   []corev1.EnvVar{{Name: "A", Value: "template"}, {Name: "B", Value: "template"}, {Name: "SPARK_CONF_DIR", Value: "/elsewhere"}},
				Ports: []corev1.ContainerPort{{Name: "spark-ui", ContainerPort: 4041}, {Name: "custom", ContainerPort: 1234}},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceEphemeralStorage: resource.MustParse("1Gi")},
					Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3")},
				},
			}},
		},
	}
	objs, _ := materializeTest(t, job)
	pod := objs.Pod
	c := pod.Spec.Containers[0]
	if c.Image != "apache/spark:3.5.3" {
		t.Errorf("image = %q, want Spark's", c.Image)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if env["A"] != "typed" || env["B"] != "template" || env["SPARK_CONF_DIR"] != sparkConfDir {
		t.Errorf("env A=%q B=%q SPARK_CONF_DIR=%q, want typed, template and Spark's", env["A"], env["B"], env["SPARK_CONF_DIR"])
	}
	if got := c.Env[0].Name; got != "B" {
		t.Errorf("first env var = %q, want the template's B first", got)
	}
	var ports []string
	for _, p := range c.Ports {
		ports = append(ports, p.Name)
	}
	if diff := cmp.Diff([]string{"custom", driverPortName, blockManagerPortName, uiPortName}, ports); diff != "" {
		t.Errorf("ports (-want +got):\n%s", diff)
	}
	wantReq := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1408Mi"), corev1.ResourceEphemeralStorage: resource.MustParse("1Gi")}
	wantLim := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3"), corev1.ResourceMemory: resource.MustParse("1408Mi")}
	if !quantitiesEqual(wantReq, c.Resources.Requests) || !quantitiesEqual(wantLim, c.Resources.Limits) {
		t.Errorf("resources = %v, want requests %v and limits %v (Spark's cpu and memory, the template's cpu limit and storage)", c.Resources, wantReq, wantLim)
	}
	if pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy = %q, want Never", pod.Spec.RestartPolicy)
	}
	if !pod.Spec.HostNetwork || pod.Spec.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		t.Errorf("hostNetwork %t, dnsPolicy %q, want true and ClusterFirstWithHostNet", pod.Spec.HostNetwork, pod.Spec.DNSPolicy)
	}
	if diff := cmp.Diff(map[string]string{"pool": "typed", "os": "linux"}, pod.Spec.NodeSelector); diff != "" {
		t.Errorf("nodeSelector (-want +got):\n%s", diff)
	}
	if pod.Labels["team"] != "typed" || pod.Labels["tier"] != "batch" || pod.Labels[v1alpha1.LabelSparkRole] != v1alpha1.RoleDriver {
		t.Errorf("labels = %v, want the typed team, the template's tier and Spark's role", pod.Labels)
	}
}

// TestExecutorTemplateFields checks what the executor pod template carries
// of the executor's template, GPU, ports, host networking and local dirs.
func TestExecutorTemplateFields(t *testing.T) {
	job := templateTestJob()
	host := true
	e := &job.Spec.Executor
	e.HostNetwork = &host
	e.GPU = &v1alpha1.GPUSpec{Name: "amd.com/gpu", Quantity: 2}
	e.Ports = []v1alpha1.Port{{Name: "metrics", ContainerPort: 8090}}
	e.VolumeMounts = []corev1.VolumeMount{{Name: "spark-local-dir-1", MountPath: "/scratch"}}
	e.Template = &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"a": "template"}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "sidecar", Image: "busybox"}, {Name: "exec", WorkingDir: "/w"}},
		},
	}
	job.Spec.SparkConf = map[string]string{"spark.kubernetes.local.dirs.tmpfs": "true"}
	_, tpl := materializeTest(t, job)
	// No container has Spark's name, so the template's first one, "sidecar",
	// is the Spark container.
	if diff := cmp.Diff([]string{executorContainerName, "exec"}, containerNames(tpl.Spec.Containers)); diff != "" {
		t.Errorf("containers (-want +got):\n%s", diff)
	}
	c := tpl.Spec.Containers[0]
	if c.Image != "busybox" || c.Name != executorContainerName {
		t.Errorf("Spark container = %q (%q), want the template's first container renamed", c.Name, c.Image)
	}
	if got := c.Resources.Limits["amd.com/gpu"]; got.Cmp(resource.MustParse("2")) != 0 {
		t.Errorf("gpu limit = %v, want 2", got)
	}
	if diff := cmp.Diff([]corev1.ContainerPort{{Name: "metrics", ContainerPort: 8090, Protocol: corev1.ProtocolTCP}}, c.Ports); diff != "" {
		t.Errorf("ports (-want +got):\n%s", diff)
	}
	if !tpl.Spec.HostNetwork || tpl.Spec.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		t.Errorf("hostNetwork %t, dnsPolicy %q", tpl.Spec.HostNetwork, tpl.Spec.DNSPolicy)
	}
	want := []corev1.Volume{{Name: "spark-local-dir-1", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}}}
	if diff := cmp.Diff(want, tpl.Spec.Volumes); diff != "" {
		t.Errorf("volumes (-want +got):\n%s", diff)
	}
	if tpl.Annotations["a"] != "template" {
		t.Errorf("annotations = %v, want the template's", tpl.Annotations)
	}
}

func TestExecutorPodNamePrefix(t *testing.T) {
	if got := ExecutorPodNamePrefix("", "pi-1a2b3c4d"); got != "pi-1a2b3c4d" {
		t.Errorf("no prefix: %q, want the run name", got)
	}
	a, b := ExecutorPodNamePrefix("etl", "pi-1a2b3c4d"), ExecutorPodNamePrefix("etl", "pi-29000000")
	if a == b || len(a) != len("etl-")+8 || a[:4] != "etl-" {
		t.Errorf("prefixes %q and %q: want 'etl-<8 hex>', different per run", a, b)
	}
	long := ExecutorPodNamePrefix("a-very-long-executor-prefix-that-spark-would-refuse", "pi-1")
	if len(long) > runid.MaxRunNameLength {
		t.Errorf("prefix %q has %d characters, want at most %d", long, len(long), runid.MaxRunNameLength)
	}
}
