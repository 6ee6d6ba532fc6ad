package admission

import (
	"strings"
	"testing"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/materialize"
	"github.com/sparkcd/sparkcd/runid"
)

// TestJobNames checks that every name the Spark Operator accepts (a
// DNS-1035 label, up to 63 characters) is admitted, run objects and all,
// and that a longer one is refused first of all for its length.
func TestJobNames(t *testing.T) {
	long := "customer-lifetime-value-aggregation-nightly-backfill-and-report"
	tests := []struct {
		name  string
		job   string
		rules []string
		first string
	}{
		{name: "short", job: "spark-pi"},
		{name: "36 characters", job: long[:35] + "s"},
		{name: "40 characters", job: long[:40]},
		{name: "63 characters", job: long[:63]},
		{name: "64 characters", job: long + "s", rules: []string{"name-too-long metadata.name"},
			first: "name 'customer-lifetime-value-aggregation-nightly-backfill-and-reports' is too long: 64 characters, at most 63"},
		{name: "too long and not a label", job: strings.ToUpper(long) + "S",
			rules: []string{"invalid-name metadata.name", "name-too-long metadata.name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := validTestJob()
			job.Name = tt.job
			v := Job(job, Options{Materialize: materialize.DefaultOptions()})
			var got []string
			for _, f := range v.Findings {
				if f.Severity == v1alpha1.SeverityError {
					got = append(got, f.Rule+" "+f.Field)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.rules, ",") {
				t.Fatalf("errors %v, want %v; findings: %+v", got, tt.rules, v.Findings)
			}
			if tt.first != "" && !strings.HasPrefix(v.Findings[0].Message, tt.first) {
				t.Errorf("first message %q, want it to start %q", v.Findings[0].Message, tt.first)
			}
			if len(tt.rules) > 0 {
				return
			}
			run := runid.OfflineRun(v.Job, "")
			if len(run.Name) > runid.MaxRunNameLength {
				t.Errorf("run %q has %d characters, want at most %d", run.Name, len(run.Name), runid.MaxRunNameLength)
			}
		})
	}
}
