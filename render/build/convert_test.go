package build

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

func refOf[T any](v T) *T { return &v }

// operatorExampleCase is one case of TestConvertOperatorExamples.
type operatorExampleCase struct {
	file string
	want *v1alpha1.SparkJob
}

// operatorPiCases are the Spark Operator's SparkPi examples in Scala and
// Python.
func operatorPiCases() []operatorExampleCase {
	return []operatorExampleCase{
		{
			file: "spark-pi.yaml",
			want: &v1alpha1.SparkJob{
				ObjectMeta: metav1.ObjectMeta{Name: "spark-pi", Namespace: "spark-jobs"},
				Spec: v1alpha1.SparkJobSpec{
					Type: v1alpha1.ScalaApplication, Mode: v1alpha1.ClusterMode, SparkVersion: "3.5.3",
					RestartPolicy: &v1alpha1.RestartPolicy{Type: v1alpha1.RestartNever},
					Image:         refOf("docker.io/apache/spark:3.5.3"), ImagePullPolicy: refOf("Always"),
					MainClass:           refOf("org.apache.spark.examples.SparkPi"),
					MainApplicationFile: refOf("local:///opt/spark/examples/jars/spark-examples.jar"),
					Arguments:           []string{"1000"},
					Volumes: []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{
						HostPath: &corev1.HostPathVolumeSource{Path: "/tmp", Type: refOf(corev1.HostPathDirectory)}}}},
					Driver: v1alpha1.DriverSpec{SparkPodSpec: v1alpha1.SparkPodSpec{
						Cores: refOf(int32(1)), CoreLimit: refOf("1200m"), Memory: refOf("512m"),
						Labels: map[string]string{"version": "3.5.3"}, ServiceAccount: refOf("spark"),
						VolumeMounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/tmp"}},
					}},
					Executor: v1alpha1.ExecutorSpec{
						Instances: refOf(int32(2)),
						SparkPodSpec: v1alpha1.SparkPodSpec{
							Cores: refOf(int32(1)), Memory: refOf("512m"),
							Labels: map[string]string{"version": "3.5.3"},
							Env: []corev1.EnvVar{
								{Name: "LANG", Value: "C.UTF-8"},
								{Name: "STAGE", Value: "test"},
								{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
									LocalObjectReference: corev1.LocalObjectReference{Name: "api"}, Key: "token"}}},
							},
							VolumeMounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/tmp"}},
						},
					},
				},
			},
		},
		{
			file: "spark-pi-python.yaml",
			want: &v1alpha1.SparkJob{
				ObjectMeta: metav1.ObjectMeta{Name: "pyspark-pi", Namespace: "default"},
				Spec: v1alpha1.SparkJobSpec{
					Type: v1alpha1.PythonApplication, Mode: v1alpha1.ClusterMode, SparkVersion: "4.0.0",
					PythonVersion: refOf("3"), Image: refOf("docker.io/apache/spark:4.0.0"), ImagePullPolicy: refOf("IfNotPresent"),
					MainApplicationFile: refOf("local:///opt/spark/examples/src/main/python/pi.py"),
					Driver: v1alpha1.DriverSpec{SparkPodSpec: v1alpha1.SparkPodSpec{
						Cores: refOf(int32(1)), Memory: refOf("512m"), ServiceAccount: refOf("spark-operator-spark"),
						SecurityContext: &corev1.SecurityContext{
							RunAsUser: refOf(int64(185)), RunAsNonRoot: refOf(true), AllowPrivilegeEscalation: refOf(false),
							Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
					}},
					Executor: v1alpha1.ExecutorSpec{Instances: refOf(int32(1)),
						SparkPodSpec: v1alpha1.SparkPodSpec{Cores: refOf(int32(1)), Memory: refOf("512m")}},
				},
			},
		},
	}
}

// operatorAllocationCases are its examples with dynamic allocation and a
// schedule.
func operatorAllocationCases() []operatorExampleCase {
	return []operatorExampleCase{
		{
			file: "spark-pi-dynamic-allocation.yaml",
			want: &v1alpha1.SparkJob{
				ObjectMeta: metav1.ObjectMeta{Name: "spark-pi-dynamic-allocation", Namespace: "default"},
				Spec: v1alpha1.SparkJobSpec{
					Type: v1alpha1.ScalaApplication, Mode: v1alpha1.ClusterMode, SparkVersion: "4.0.0",
					Image:               refOf("docker.io/apache/spark:4.0.0"),
					MainClass:           refOf("org.apache.spark.examples.SparkPi"),
					MainApplicationFile: refOf("local:///opt/spark/examples/jars/spark-examples.jar"),
					Driver: v1alpha1.DriverSpec{SparkPodSpec: v1alpha1.SparkPodSpec{
						Cores: refOf(int32(1)), Memory: refOf("512m"), ServiceAccount: refOf("spark-operator-spark")}},
					Executor: v1alpha1.ExecutorSpec{Instances: refOf(int32(1)),
						SparkPodSpec: v1alpha1.SparkPodSpec{Cores: refOf(int32(1)), Memory: refOf("512m")}},
					// The operator turns shuffle tracking on with dynamic allocation.
					DynamicAllocation: &v1alpha1.DynamicAllocation{Enabled: refOf(true), InitialExecutors: refOf(int32(2)),
						MinExecutors: refOf(int32(1)), MaxExecutors: refOf(int32(5)), ShuffleTrackingEnabled: refOf(true)},
				},
			},
		},
		{
			file: "spark-pi-scheduled.yaml",
			want: &v1alpha1.SparkJob{
				// The Operator labels each run with the schedule's name.
				ObjectMeta: metav1.ObjectMeta{Name: "spark-pi-scheduled", Namespace: "default",
					Labels: map[string]string{"sparkoperator.k8s.io/scheduled-app-name": "spark-pi-scheduled"}},
				Spec: v1alpha1.SparkJobSpec{
					Type: v1alpha1.ScalaApplication, Mode: v1alpha1.ClusterMode, SparkVersion: "3.5.3",
					RestartPolicy:       &v1alpha1.RestartPolicy{Type: v1alpha1.RestartNever},
					Image:               refOf("docker.io/apache/spark:3.5.3"),
					MainClass:           refOf("org.apache.spark.examples.SparkPi"),
					MainApplicationFile: refOf("local:///opt/spark/examples/jars/spark-examples.jar"),
					Driver: v1alpha1.DriverSpec{SparkPodSpec: v1alpha1.SparkPodSpec{
						Cores: refOf(int32(1)), Memory: refOf("512m"), ServiceAccount: refOf("spark-operator-spark")}},
					Executor: v1alpha1.ExecutorSpec{Instances: refOf(int32(1)),
						SparkPodSpec: v1alpha1.SparkPodSpec{Cores: refOf(int32(1)), Memory: refOf("512m")}},
					Schedule: "@every 3m", TimeZone: "Europe/Paris", ConcurrencyPolicy: v1alpha1.ForbidConcurrent,
					// Unset limits keep the operator's default of 1.
					SuccessfulRunHistoryLimit: refOf(int32(2)), FailedRunHistoryLimit: refOf(int32(1)),
				},
			},
		},
	}
}

// TestConvertOperatorExamples builds each shape of the Spark Operator's
// examples (Scala, Python, dynamic allocation, scheduled) and checks the
// SparkJob it converts to.
func TestConvertOperatorExamples(t *testing.T) {
	root := filepath.Join("testdata", "build", "operator")
	for _, tt := range slices.Concat(operatorPiCases(), operatorAllocationCases()) {
		t.Run(tt.file, func(t *testing.T) {
			res, err := Build(t.Context(), root, tt.file, DefaultBuildOptions())
			if err != nil || len(res.Errors) > 0 {
				t.Fatalf("Build: %v %v", err, res.Errors)
			}
			if len(res.Jobs) != 1 {
				t.Fatalf("got %d jobs, want 1", len(res.Jobs))
			}
			job := res.Jobs[0]
			if len(job.Findings) > 0 {
				t.Errorf("findings: %+v", job.Findings)
			}
			tt.want.TypeMeta = metav1.TypeMeta{APIVersion: "sparkcd.io/v1alpha1", Kind: "SparkJob"}
			if diff := cmp.Diff(tt.want, job.Object); diff != "" {
				t.Errorf("SparkJob (-want +got):\n%s", diff)
			}
			if job.Origin.File != tt.file {
				t.Errorf("origin file %q, want %q", job.Origin.File, tt.file)
			}
		})
	}
}

func TestConvertFindings(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want []string
	}{
		{name: "nothing unsupported", spec: "type: Scala\nrestartPolicy: {type: Never}\n"},
		{
			name: "retries",
			spec: "type: Scala\nrestartPolicy: {type: Always}\nfailureRetries: 3\nretryInterval: 10\n",
			want: []string{"warning spec.failureRetries", "warning spec.retryInterval"}, // deprecated-field
		},
		{
			name: "harmless settings",
			spec: "type: Scala\nbatchScheduler: volcano\ndriver: {podName: my-driver, ports: [{name: m, protocol: TCP, containerPort: 9090}]}\n" +
				"sparkUIOptions: {serviceType: NodePort}\n",
		},
		{
			name: "behaviour-changing settings",
			spec: "type: Python\ndriver: {kubernetesMaster: https://other:6443, template: {metadata: {labels: {a: b}}}}\n",
			want: []string{"error spec.driver.kubernetesMaster"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "apiVersion: sparkoperator.k8s.io/v1beta2\nkind: SparkApplication\nmetadata: {name: a}\nspec:\n" + indent(tt.spec)
			jobs, err := Decode([]byte(doc), Origin{File: "a.yaml"})
			if err != nil || len(jobs) != 1 {
				t.Fatalf("Decode: %v, %d jobs", err, len(jobs))
			}
			var got []string
			for _, f := range jobs[0].Findings {
				if f.Rule != RuleUnsupported && f.Rule != RuleDeprecated {
					t.Errorf("unexpected finding %+v", f)
				}
				got = append(got, string(f.Severity)+" "+f.Field)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func indent(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		b.WriteString("  " + line + "\n")
	}
	return b.String()
}

// TestConvertPodFields checks the pod fields SparkJob shares with the
// Operator: the template, memoryLimit, gpu, ports and driver.podName are
// copied as they are.
func TestConvertPodFields(t *testing.T) {
	doc := `apiVersion: sparkoperator.k8s.io/v1beta2
kind: ScheduledSparkApplication
metadata: {name: a, namespace: ns}
spec:
  schedule: "@daily"
  template:
    type: Scala
    driver:
      podName: fixed-driver
      memoryLimit: 2g
      ports: [{name: jmx, protocol: TCP, containerPort: 9090}]
      template:
        metadata: {labels: {team: x}}
        spec:
          securityContext: {runAsUser: 185, capabilities: {drop: [ALL]}}
          containers: [{name: spark-kubernetes-driver, env: [{name: A, value: b}]}]
    executor:
      gpu: {name: nvidia.com/gpu, quantity: 2}
      ports: [{name: p, containerPort: 8000}]
`
	jobs, err := Decode([]byte(doc), Origin{File: "a.yaml"})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("Decode: %v, %d jobs", err, len(jobs))
	}
	wantFindings := []v1alpha1.Finding{{Severity: v1alpha1.SeverityWarning, Rule: RuleTemplateField,
		Field:   "spec.template.driver.template.spec.securityContext.capabilities",
		Message: "unknown field 'spec.template.driver.template.spec.securityContext.capabilities': a Pod has no such field, so it is dropped from the pod template and has no effect"}}
	if diff := cmp.Diff(wantFindings, jobs[0].Findings); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	spec := jobs[0].Object.Spec
	uid := int64(185)
	want := v1alpha1.DriverSpec{PodName: refOf("fixed-driver"), SparkPodSpec: v1alpha1.SparkPodSpec{
		MemoryLimit: refOf("2g"),
		Ports:       []v1alpha1.Port{{Name: "jmx", Protocol: "TCP", ContainerPort: 9090}},
		Template: &corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"team": "x"}},
			Spec: corev1.PodSpec{
				SecurityContext: &corev1.PodSecurityContext{RunAsUser: &uid},
				Containers:      []corev1.Container{{Name: "spark-kubernetes-driver", Env: []corev1.EnvVar{{Name: "A", Value: "b"}}}},
			},
		},
	}}
	if diff := cmp.Diff(want, spec.Driver); diff != "" {
		t.Errorf("driver (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&v1alpha1.GPUSpec{Name: "nvidia.com/gpu", Quantity: 2}, spec.Executor.GPU); diff != "" {
		t.Errorf("executor gpu (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]v1alpha1.Port{{Name: "p", ContainerPort: 8000}}, spec.Executor.Ports); diff != "" {
		t.Errorf("executor ports (-want +got):\n%s", diff)
	}
}

// TestTemplateUnknownFieldSparkJob checks that a SparkJob's pod template
// field a Pod does not have is a warning, and any other unknown field still
// an error.
func TestTemplateUnknownFieldSparkJob(t *testing.T) {
	doc := `apiVersion: sparkcd.io/v1alpha1
kind: SparkJob
metadata: {name: a, namespace: ns}
spec:
  type: Scala
  executor:
    template:
      spec:
        containers: [{name: spark-kubernetes-executor, capabilities: {}}]
    templat: {}
`
	jobs, err := Decode([]byte(doc), Origin{File: "a.yaml"})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("Decode: %v, %d jobs", err, len(jobs))
	}
	var got []string
	for _, f := range jobs[0].Findings {
		got = append(got, string(f.Severity)+" "+f.Rule+" "+f.Field)
	}
	want := []string{
		"error unknown-field spec.executor.templat",
		"warning template-field spec.executor.template.spec.containers[0].capabilities",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}
