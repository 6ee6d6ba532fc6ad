package admission

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// TestValidatePodFields checks the pod fields the Spark Operator's webhook
// applies, the pod names and the templates: what is accepted silently, and
// the messages of what is not.
func TestValidatePodFields(t *testing.T) {
	s := func(v string) *string { return &v }
	tests := []struct {
		name   string
		mutate func(*v1alpha1.SparkJob)
		want   []v1alpha1.Finding
	}{
		{name: "spark-local-dir mount without a volume", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.Driver.VolumeMounts = []corev1.VolumeMount{{Name: "spark-local-dir-1", MountPath: "/scratch"}}
			j.Spec.Executor.VolumeMounts = []corev1.VolumeMount{{Name: "spark-local-dir-2", MountPath: "/scratch2"}}
		}},
		{name: "mount of a template volume", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.Executor.VolumeMounts = []corev1.VolumeMount{{Name: "work", MountPath: "/work"}}
			j.Spec.Executor.Template = &corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Volumes:    []corev1.Volume{{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
				Containers: []corev1.Container{{Name: "spark-kubernetes-executor", Env: []corev1.EnvVar{{Name: "A", Value: "b"}}}},
			}}
		}},
		{name: "gpu, ports and a driver memory limit above the request", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.Driver.GPU = &v1alpha1.GPUSpec{Name: "nvidia.com/gpu", Quantity: 1}
			j.Spec.Driver.Ports = []v1alpha1.Port{{Name: "jmx", Protocol: "TCP", ContainerPort: 9090}}
			j.Spec.Driver.MemoryLimit = s("4Gi")
			j.Spec.Executor.Ports = []v1alpha1.Port{{Name: "metrics", ContainerPort: 8090}}
		}},
		{name: "executor memory limit raises the overhead", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.Executor.Memory = s("8g")
			j.Spec.Executor.MemoryLimit = s("12g")
		}, want: []v1alpha1.Finding{{Severity: v1alpha1.SeverityWarning, Rule: RuleMemoryLimit, Field: "spec.executor.memoryLimit",
			Message: "spec.executor.memoryLimit '12g': Spark sets an executor's memory limit equal to its request, so sparkcd raises spark.executor.memoryOverhead to 4096m and each executor requests 12288Mi (with the Spark Operator it requests 9011Mi and may use up to the limit)"}}},
		{name: "driver memory limit below the request", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.Driver.MemoryLimit = s("1g")
		}, want: []v1alpha1.Finding{{Severity: v1alpha1.SeverityError, Rule: RuleMemoryLimit, Field: "spec.driver.memoryLimit",
			Message: "spec.driver.memoryLimit '1g' is below the driver's memory request of 1408Mi (memory + overhead): Kubernetes rejects the pod; raise it to at least 1408Mi"}}},
		{name: "executor prefix", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.SparkConf = map[string]string{"spark.kubernetes.executor.podNamePrefix": "etl"}
		}, want: []v1alpha1.Finding{{Severity: v1alpha1.SeverityWarning, Rule: RuleExecutorPodNamePrefix, Field: "spec.sparkConf[spark.kubernetes.executor.podNamePrefix]",
			Message: "sparkConf sets spark.kubernetes.executor.podNamePrefix to 'etl': each run's executors are named 'etl-<8 hex characters of the run>-exec-<n>', so the executors of two runs never collide"}}},
		{name: "driver pod name", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.Driver.PodName = s("pi-driver")
		}, want: []v1alpha1.Finding{{Severity: v1alpha1.SeverityWarning, Rule: RuleDriverPodName, Field: "spec.driver.podName",
			Message: "spec.driver.podName 'pi-driver' is not used: every run's driver pod is named '<run>-driver' (such as 'spark-pi-<suffix>-driver'), so runs never collide and each keeps its own pod and logs; find a run's driver by the label 'sparkcd.io/run'"}}},
		{name: "template sets the image", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.Executor.Template = &corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "spark-kubernetes-executor", Image: "other:1"}},
			}}
		}, want: []v1alpha1.Finding{{Severity: v1alpha1.SeverityWarning, Rule: RuleTemplateOverridden, Field: "spec.executor.template.spec.containers[0].image",
			Message: "spec.executor.template.spec.containers[0].image is set, but Spark sets the image from spec.image or spec.executor.image: the template's value has no effect"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := validTestJob()
			tt.mutate(job)
			if diff := cmp.Diff(tt.want, Validate(job)); diff != "" {
				t.Errorf("Validate() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
