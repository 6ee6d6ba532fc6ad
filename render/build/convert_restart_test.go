package build

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// TestConvertRestartPolicy: the Operator's restart policy reaches the
// SparkJob field by field, with no finding, from a SparkApplication and
// from a ScheduledSparkApplication's template.
func TestConvertRestartPolicy(t *testing.T) {
	policy := "restartPolicy:\n  type: OnFailure\n  onFailureRetries: 3\n  onFailureRetryInterval: 10\n" +
		"  onSubmissionFailureRetries: 5\n  onSubmissionFailureRetryInterval: 20\n"
	want := &v1alpha1.RestartPolicy{
		Type: v1alpha1.RestartOnFailure, OnFailureRetries: refOf(int32(3)), OnFailureRetryInterval: refOf(int64(10)),
		OnSubmissionFailureRetries: refOf(int32(5)), OnSubmissionFailureRetryInterval: refOf(int64(20)),
	}
	tests := []struct{ name, doc string }{
		{"SparkApplication", "kind: SparkApplication\nmetadata: {name: a}\nspec:\n" + indent("type: Scala\n"+policy)},
		{"ScheduledSparkApplication", "kind: ScheduledSparkApplication\nmetadata: {name: a}\nspec:\n" +
			indent("schedule: '@daily'\ntemplate:\n"+indent("type: Scala\n"+policy))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jobs, err := Decode([]byte("apiVersion: sparkoperator.k8s.io/v1beta2\n"+tt.doc), Origin{File: "a.yaml"})
			if err != nil || len(jobs) != 1 {
				t.Fatalf("Decode: %v, %d jobs", err, len(jobs))
			}
			if len(jobs[0].Findings) > 0 {
				t.Errorf("findings: %+v", jobs[0].Findings)
			}
			if diff := cmp.Diff(want, jobs[0].Object.Spec.RestartPolicy); diff != "" {
				t.Errorf("restartPolicy (-want +got):\n%s", diff)
			}
		})
	}
}
