package build

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// TestConvertPassThrough checks the fields the Operator hands to
// spark-submit unchanged and sparkcd now converts unchanged, leaving the
// verdict to admission: pythonVersion "2" (Spark 2.4 accepts it), any
// secretType, and the scheduled-app-name label a schedule's runs carry
// (the schedule's own label of that name wins, as in the Operator).
func TestConvertPassThrough(t *testing.T) {
	tests := []struct {
		name, doc  string
		wantLabels map[string]string
		check      func(t *testing.T, job *v1alpha1.SparkJob)
	}{
		{
			name: "python 2 on spark 2.4",
			doc: "kind: SparkApplication\nmetadata: {name: py}\nspec:\n  type: Python\n  pythonVersion: \"2\"\n  sparkVersion: \"2.4.5\"\n" +
				"  driver: {secrets: [{name: s, path: /mnt/s, secretType: Opaque}]}\n",
			check: func(t *testing.T, job *v1alpha1.SparkJob) {
				if p := job.Spec.PythonVersion; p == nil || *p != "2" {
					t.Errorf("pythonVersion = %v, want \"2\"", p)
				}
				if got := job.Spec.Driver.Secrets; len(got) != 1 || got[0].Type != "Opaque" {
					t.Errorf("driver secrets = %+v, want secretType Opaque kept", got)
				}
			},
		},
		{
			name:       "scheduled",
			doc:        "kind: ScheduledSparkApplication\nmetadata: {name: nightly, labels: {team: data}}\nspec:\n  schedule: \"@daily\"\n  template: {type: Scala}\n",
			wantLabels: map[string]string{"sparkoperator.k8s.io/scheduled-app-name": "nightly", "team": "data"},
		},
		{
			name:       "scheduled with its own label of that name",
			doc:        "kind: ScheduledSparkApplication\nmetadata: {name: nightly, labels: {sparkoperator.k8s.io/scheduled-app-name: mine}}\nspec:\n  schedule: \"@daily\"\n  template: {type: Scala}\n",
			wantLabels: map[string]string{"sparkoperator.k8s.io/scheduled-app-name": "mine"},
		},
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
			job := jobs[0].Object
			if diff := cmp.Diff(tt.wantLabels, job.Labels); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
			if tt.check != nil {
				tt.check(t, job)
			}
		})
	}
}
