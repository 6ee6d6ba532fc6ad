package build

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// TestConvertBatchScheduler checks that a SparkApplication's batchScheduler
// and batchSchedulerOptions carry over unchanged and are no finding.
func TestConvertBatchScheduler(t *testing.T) {
	doc := `apiVersion: sparkoperator.k8s.io/v1beta2
kind: SparkApplication
metadata: {name: a, namespace: ns}
spec:
  type: Scala
  batchScheduler: volcano
  batchSchedulerOptions:
    queue: default
    priorityClassName: high
    resources: {cpu: "2", memory: 4Gi}
`
	jobs, err := Decode([]byte(doc), Origin{File: "a.yaml"})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("Decode: %v, %d jobs", err, len(jobs))
	}
	if len(jobs[0].Findings) != 0 {
		t.Errorf("findings: %v, want none", jobs[0].Findings)
	}
	spec := jobs[0].Object.Spec
	if diff := cmp.Diff(refOf(v1alpha1.VolcanoScheduler), spec.BatchScheduler); diff != "" {
		t.Errorf("batchScheduler (-want +got):\n%s", diff)
	}
	want := &v1alpha1.BatchSchedulerConfiguration{Queue: refOf("default"), PriorityClassName: refOf("high"),
		Resources: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi")}}
	if diff := cmp.Diff(want, spec.BatchSchedulerOptions); diff != "" {
		t.Errorf("batchSchedulerOptions (-want +got):\n%s", diff)
	}
}
