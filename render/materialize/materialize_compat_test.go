package materialize

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

func TestAppNameLabel(t *testing.T) {
	tests := []struct{ name, want string }{
		{name: "spark-pi", want: "spark-pi"},
		{name: "Spark Pi", want: "spark-pi"},
		{name: "org.apache.spark.examples.SparkPi", want: "org-apache-spark-examples-sparkpi"},
		{name: "--a__b--", want: "a-b"},
		{name: strings.Repeat("a", 70), want: strings.Repeat("a", 63)},
		{name: strings.Repeat("a", 62) + ".b", want: strings.Repeat("a", 62)},
	}
	for _, tt := range tests {
		if got := appNameLabel(tt.name); got != tt.want {
			t.Errorf("appNameLabel(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// materializeCase materializes a golden job after a change.
func materializeCase(t *testing.T, file string, mutate func(*v1alpha1.SparkJob)) (*Objects, error) {
	t.Helper()
	job := decodeJobFile(t, filepath.Join("testdata/materialize", file))
	if mutate != nil {
		mutate(job)
	}
	return Materialize(job, runid.OfflineRun(job, goldenRevision), DefaultOptions())
}

func envOf(c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		out[e.Name] = e.Value
	}
	return out
}

// TestMaterializeDriverEnvBySparkVersion checks the Python driver's
// environment against DriverCommandFeatureStep of each Spark line, and
// SPARK_CONF_DIR against the Spark Operator's sparkConfigMap.
func TestMaterializeDriverEnvBySparkVersion(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		mutate  func(*v1alpha1.SparkJob)
		want    map[string]string
		notWant []string
	}{
		{
			name:    "python on 3.5 without an interpreter sets none",
			file:    "python-dynamic.job.yaml",
			want:    map[string]string{envSparkConfDir: sparkConfDir},
			notWant: []string{envPythonMajor, envPySparkPython, envPySparkDriverPython},
		},
		{
			name: "python on 3.5 with spark.pyspark.python sets both",
			file: "python-dynamic.job.yaml",
			mutate: func(j *v1alpha1.SparkJob) {
				j.Spec.SparkConf["spark.pyspark.python"] = "/usr/bin/python3.11"
			},
			want:    map[string]string{envPySparkPython: "/usr/bin/python3.11", envPySparkDriverPython: "/usr/bin/python3.11"},
			notWant: []string{envPythonMajor},
		},
		{
			name: "python driver interpreter of its own",
			file: "python-dynamic.job.yaml",
			mutate: func(j *v1alpha1.SparkJob) {
				j.Spec.SparkConf["spark.pyspark.driver.python"] = "/opt/driver/python"
			},
			want:    map[string]string{envPySparkDriverPython: "/opt/driver/python"},
			notWant: []string{envPySparkPython, envPythonMajor},
		},
		{
			name:    "python on 3.0 sets the major version",
			file:    "python-dynamic.job.yaml",
			mutate:  func(j *v1alpha1.SparkJob) { j.Spec.SparkVersion = "3.0.3" },
			want:    map[string]string{envPythonMajor: "3"},
			notWant: []string{envPySparkPython, envPySparkDriverPython},
		},
		{
			name: "sparkConfigMap becomes SPARK_CONF_DIR",
			file: "java-hadoop.job.yaml",
			want: map[string]string{envSparkConfDir: sparkConfigMapDir, envHadoopConfDir: hadoopConfigMapDir},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := materializeCase(t, tt.file, tt.mutate)
			if err != nil {
				t.Fatal(err)
			}
			env := envOf(objs.Pod.Spec.Containers[0])
			for k, v := range tt.want {
				if env[k] != v {
					t.Errorf("%s = %q, want %q", k, env[k], v)
				}
			}
			for _, k := range tt.notWant {
				if _, ok := env[k]; ok {
					t.Errorf("%s is set to %q, want it unset", k, env[k])
				}
			}
		})
	}
}

func TestMaterializeDriverLabelsBySparkVersion(t *testing.T) {
	tests := []struct {
		version string
		want    string
	}{
		{version: "3.5.3", want: "3.5.3"},
		{version: "4.0.1", want: "4.0.1"},
		{version: "3.2.4", want: ""},
		{version: "", want: ""},
	}
	for _, tt := range tests {
		t.Run("spark "+tt.version, func(t *testing.T) {
			objs, err := materializeCase(t, "scala-static.job.yaml", func(j *v1alpha1.SparkJob) { j.Spec.SparkVersion = tt.version })
			if err != nil {
				t.Fatal(err)
			}
			if got := objs.Pod.Labels[labelSparkVersion]; got != tt.want {
				t.Errorf("spark-version label = %q, want %q", got, tt.want)
			}
			if got := objs.Pod.Labels[v1alpha1.LabelSparkAppName]; got != "spark-pi" {
				t.Errorf("spark-app-name label = %q, want spark-pi", got)
			}
		})
	}
}

func TestMaterializeDriverResources(t *testing.T) {
	gpu := func(conf map[string]string) func(*v1alpha1.SparkJob) {
		return func(j *v1alpha1.SparkJob) {
			j.Spec.SparkConf = conf
		}
	}
	tests := []struct {
		name    string
		mutate  func(*v1alpha1.SparkJob)
		want    corev1.ResourceList
		wantErr string
	}{
		{
			name: "gpu with vendor",
			mutate: gpu(map[string]string{
				"spark.driver.resource.gpu.amount": "2", "spark.driver.resource.gpu.vendor": "nvidia.com",
				"spark.driver.resource.fpga.amount": "1", "spark.driver.resource.fpga.vendor": "xilinx.com",
			}),
			want: corev1.ResourceList{
				corev1.ResourceMemory: resource.MustParse("1408Mi"),
				"nvidia.com/gpu":      resource.MustParse("2"),
				"xilinx.com/fpga":     resource.MustParse("1"),
			},
		},
		{
			name:   "executor resources stay off the driver",
			mutate: gpu(map[string]string{"spark.executor.resource.gpu.amount": "1", "spark.executor.resource.gpu.vendor": "nvidia.com"}),
			want:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1408Mi")},
		},
		{
			name:    "no vendor",
			mutate:  gpu(map[string]string{"spark.driver.resource.gpu.amount": "1"}),
			wantErr: "without 'spark.driver.resource.gpu.vendor'",
		},
		{
			name:    "no amount",
			mutate:  gpu(map[string]string{"spark.driver.resource.gpu.vendor": "nvidia.com"}),
			wantErr: "without 'spark.driver.resource.gpu.amount'",
		},
		{
			name:    "fractional amount",
			mutate:  gpu(map[string]string{"spark.driver.resource.gpu.amount": "0.5", "spark.driver.resource.gpu.vendor": "nvidia.com"}),
			wantErr: "must be a whole number",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := materializeCase(t, "scala-static.job.yaml", tt.mutate)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Materialize() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := objs.Pod.Spec.Containers[0].Resources.Limits
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })); diff != "" {
				t.Errorf("driver limits mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMaterializeServiceIPFamilies(t *testing.T) {
	single, prefer := corev1.IPFamilyPolicySingleStack, corev1.IPFamilyPolicyPreferDualStack
	tests := []struct {
		name         string
		version      string
		conf         map[string]string
		wantPolicy   *corev1.IPFamilyPolicy
		wantFamilies []corev1.IPFamily
		wantErr      bool
	}{
		{name: "spark 3.5 default", version: "3.5.3", wantPolicy: &single, wantFamilies: []corev1.IPFamily{corev1.IPv4Protocol}},
		{name: "spark 3.3 leaves it to the API server", version: "3.3.4"},
		{
			name: "dual stack", version: "4.0.1",
			conf:       map[string]string{keyServiceIPFamilyPolicy: "PreferDualStack", keyServiceIPFamilies: "IPv6,IPv4"},
			wantPolicy: &prefer, wantFamilies: []corev1.IPFamily{corev1.IPv6Protocol, corev1.IPv4Protocol},
		},
		{name: "bad policy", version: "3.5.3", conf: map[string]string{keyServiceIPFamilyPolicy: "DualStack"}, wantErr: true},
		{name: "bad families", version: "3.5.3", conf: map[string]string{keyServiceIPFamilies: "IPv4,IPv4"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := materializeCase(t, "scala-static.job.yaml", func(j *v1alpha1.SparkJob) {
				j.Spec.SparkVersion = tt.version
				j.Spec.SparkConf = tt.conf
			})
			if tt.wantErr {
				if err == nil {
					t.Fatal("Materialize() = nil error, want one")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantPolicy, objs.Service.Spec.IPFamilyPolicy); diff != "" {
				t.Errorf("ipFamilyPolicy mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantFamilies, objs.Service.Spec.IPFamilies); diff != "" {
				t.Errorf("ipFamilies mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMaterializeAcceptedByAPIServer creates every golden run in a real API
// server in the order the job loop does (driver pod, then its dependents
// owned by it) and checks that the server keeps what Spark relies on: the
// conf volume's items and modes, the custom resource limits, the service's
// IP families, the containers, ports, resources (GPUs, memoryLimit), host
// networking's DNS policy and volumes of a merged pod template, and an
// executor pod template that decodes as a Pod and, given what Spark adds,
// is itself a pod the API server accepts.
func TestMaterializeAcceptedByAPIServer(t *testing.T) {
	e := env.Env(t)
	files, err := filepath.Glob("testdata/materialize/*.job.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	cs := e.Clientset
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".job.yaml")
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			job := decodeJobFile(t, file)
			job.Namespace = e.Namespace(t)
			objs, err := Materialize(job, runid.OfflineRun(job, goldenRevision), DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			createPriorityClasses(t, cs, job, objs)
			pod, err := cs.CoreV1().Pods(job.Namespace).Create(ctx, objs.Pod, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("creating the driver pod: %v", err)
			}
			pod.APIVersion, pod.Kind = "v1", "Pod"
			SetDriverOwner(objs, pod)
			cm, err := cs.CoreV1().ConfigMaps(job.Namespace).Create(ctx, objs.ConfigMap, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("creating the ConfigMap: %v", err)
			}
			svc, err := cs.CoreV1().Services(job.Namespace).Create(ctx, objs.Service, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("creating the Service: %v", err)
			}
			owners := map[string][]metav1.OwnerReference{"configmap": cm.OwnerReferences, "service": svc.OwnerReferences}
			for _, d := range objs.Dependents()[2:] {
				created, err := createDependent(ctx, cs, d)
				if err != nil {
					t.Fatalf("creating %T '%s': %v", d, d.GetName(), err)
				}
				owners[d.GetName()] = created.GetOwnerReferences()
			}

			if diff := cmp.Diff(confVolume(t, objs.Pod).ConfigMap.Items, confVolume(t, pod).ConfigMap.Items); diff != "" {
				t.Errorf("conf volume items changed by the API server (-rendered +stored):\n%s", diff)
			}
			checkStoredPod(t, objs.Pod, pod)
			if got, want := pod.Spec.Containers[0].Resources.Limits, objs.Pod.Spec.Containers[0].Resources.Limits; !quantitiesEqual(got, want) {
				t.Errorf("driver limits stored as %v, rendered %v", got, want)
			}
			if objs.Service.Spec.IPFamilyPolicy != nil {
				if diff := cmp.Diff(objs.Service.Spec.IPFamilyPolicy, svc.Spec.IPFamilyPolicy); diff != "" {
					t.Errorf("ipFamilyPolicy changed (-rendered +stored):\n%s", diff)
				}
				if diff := cmp.Diff(objs.Service.Spec.IPFamilies, svc.Spec.IPFamilies); diff != "" {
					t.Errorf("ipFamilies changed (-rendered +stored):\n%s", diff)
				}
			}
			if svc.Spec.ClusterIP != corev1.ClusterIPNone {
				t.Errorf("service clusterIP = %q, want None", svc.Spec.ClusterIP)
			}
			for name, refs := range owners {
				if len(refs) != 1 || refs[0].UID != pod.UID || refs[0].Controller == nil || !*refs[0].Controller {
					t.Errorf("%s ownerReferences = %+v, want the driver pod as controller", name, refs)
				}
			}
			checkExecutorTemplate(t, cs, job, cm)
			// The executor pod admission judges for Pod Security is one the
			// API server accepts too.
			if _, err := cs.CoreV1().Pods(job.Namespace).Create(ctx, objs.Executor, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
				t.Errorf("creating objs.Executor: %v", err)
			}
		})
	}
}

// createPriorityClasses creates the classes the driver and the executors
// name: the Priority admission plugin resolves a class on create; the
// platform team creates it once per cluster.
func createPriorityClasses(t *testing.T, cs kubernetes.Interface, job *v1alpha1.SparkJob, objs *Objects) {
	t.Helper()
	executorClass := ""
	if p := job.Spec.Executor.PriorityClassName; p != nil {
		executorClass = *p
	}
	for _, pc := range []string{objs.Pod.Spec.PriorityClassName, executorClass} {
		if pc == "" {
			continue
		}
		_, err := cs.SchedulingV1().PriorityClasses().Create(t.Context(), &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: pc}, Value: 1000}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("creating priority class '%s': %v", pc, err)
		}
	}
}

// checkExecutorTemplate decodes the executor pod template of the stored
// ConfigMap and creates an executor from it as Spark would (its name and
// Spark's settings aside), which the API server must accept too.
func checkExecutorTemplate(t *testing.T, cs kubernetes.Interface, job *v1alpha1.SparkJob, cm *corev1.ConfigMap) {
	t.Helper()
	template := &corev1.Pod{}
	if err := yaml.UnmarshalStrict([]byte(cm.Data[podTemplateKey]), template); err != nil {
		t.Fatalf("executor pod template does not decode as a Pod: %v", err)
	}
	if got := template.Spec.Containers[0].Name; got != executorContainerName {
		t.Errorf("executor template container = %q, want %q", got, executorContainerName)
	}
	executor := template.DeepCopy()
	executor.Name, executor.Namespace = runid.DriverPodName(job.Name)+"-exec-1", job.Namespace
	executor.Spec.RestartPolicy = corev1.RestartPolicyNever
	executor.Spec.Containers[0].Image = "registry.example.com/spark:3.5.3"
	applyExecutorConfMounts(t, executor, job.Spec.SparkConf) // materialize_confmounts_test.go
	stored, err := cs.CoreV1().Pods(job.Namespace).Create(t.Context(), executor, metav1.CreateOptions{})
	if err != nil {
		t.Errorf("creating an executor pod from the template: %v", err)
		return
	}
	checkStoredPod(t, executor, stored)
}

func confVolume(t *testing.T, pod *corev1.Pod) corev1.Volume {
	t.Helper()
	for _, v := range pod.Spec.Volumes {
		if v.Name == confVolumeName {
			return v
		}
	}
	t.Fatalf("pod %s has no volume %s", pod.Name, confVolumeName)
	return corev1.Volume{}
}

// checkStoredPod checks that the API server keeps what the pod fields and
// the template merge rendered: containers in order, every container's
// ports and resources, the DNS policy of host networking, and the volumes.
func checkStoredPod(t *testing.T, rendered, stored *corev1.Pod) {
	t.Helper()
	if rendered.Spec.DNSPolicy != "" && stored.Spec.DNSPolicy != rendered.Spec.DNSPolicy {
		t.Errorf("dnsPolicy stored as %q, rendered %q", stored.Spec.DNSPolicy, rendered.Spec.DNSPolicy)
	}
	if stored.Spec.HostNetwork != rendered.Spec.HostNetwork {
		t.Errorf("hostNetwork stored as %t, rendered %t", stored.Spec.HostNetwork, rendered.Spec.HostNetwork)
	}
	if len(stored.Spec.Containers) != len(rendered.Spec.Containers) || len(stored.Spec.InitContainers) != len(rendered.Spec.InitContainers) {
		t.Fatalf("stored %d containers and %d init containers, rendered %d and %d",
			len(stored.Spec.Containers), len(stored.Spec.InitContainers), len(rendered.Spec.Containers), len(rendered.Spec.InitContainers))
	}
	for i, c := range rendered.Spec.Containers {
		s := stored.Spec.Containers[i]
		if s.Name != c.Name {
			t.Errorf("container %d stored as %q, rendered %q", i, s.Name, c.Name)
		}
		ports := append([]corev1.ContainerPort(nil), s.Ports...)
		for j := range ports {
			if stored.Spec.HostNetwork {
				ports[j].HostPort = 0 // defaulted to the container port
			}
		}
		if diff := cmp.Diff(c.Ports, ports); diff != "" {
			t.Errorf("container %q ports changed (-rendered +stored):\n%s", c.Name, diff)
		}
		// The API server defaults an extended resource's request to its limit.
		requests := c.Resources.Requests.DeepCopy()
		for k, v := range c.Resources.Limits {
			if _, ok := requests[k]; !ok && strings.Contains(string(k), "/") {
				if requests == nil {
					requests = corev1.ResourceList{}
				}
				requests[k] = v
			}
		}
		if !quantitiesEqual(requests, s.Resources.Requests) || !quantitiesEqual(c.Resources.Limits, s.Resources.Limits) {
			t.Errorf("container %q resources stored as %v, rendered %v", c.Name, s.Resources, c.Resources)
		}
	}
	var names []string
	for _, v := range stored.Spec.Volumes {
		names = append(names, v.Name)
	}
	var want []string
	for _, v := range rendered.Spec.Volumes {
		want = append(want, v.Name)
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("volumes changed (-rendered +stored):\n%s", diff)
	}
}

func quantitiesEqual(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || v.Cmp(w) != 0 {
			return false
		}
	}
	return true
}

// createDependent creates one of a run's optional objects the way the job
// loop does, and returns what the API server stored.
func createDependent(ctx context.Context, cs kubernetes.Interface, d Dependent) (metav1.Object, error) {
	opts := metav1.CreateOptions{}
	switch o := d.(type) {
	case *corev1.Service:
		return cs.CoreV1().Services(o.Namespace).Create(ctx, o, opts)
	case *networkingv1.Ingress:
		return cs.NetworkingV1().Ingresses(o.Namespace).Create(ctx, o, opts)
	case *policyv1.PodDisruptionBudget:
		return cs.PolicyV1().PodDisruptionBudgets(o.Namespace).Create(ctx, o, opts)
	}
	return nil, fmt.Errorf("no client for %T", d)
}
