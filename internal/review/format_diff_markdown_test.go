package review

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// TestDiffMarkdownMaxBytes (issue 18, item 1): a 200-job change with large
// diffs fits a GitHub comment: the counts always, the details of the jobs
// that introduce errors first, and a line saying how many were left out.
func TestDiffMarkdownMaxBytes(t *testing.T) {
	d := &DiffReport{From: "main@sha1:aaaa", To: "pr@sha1:bbbb", Path: "jobs"}
	big := strings.Repeat("+    spark.sql.shuffle.partitions: \"400\"\n", 40)
	for i := range 200 {
		j := JobChange{Name: fmt.Sprintf("job-%03d", i), Namespace: "spark", Source: "jobs/j.yaml", Change: Changed, Diff: big, Introduced: []v1alpha1.Finding{}}
		if i == 150 {
			j.Introduced = []v1alpha1.Finding{{Severity: v1alpha1.SeverityError, Rule: "max-executors", Field: "spec.dynamicAllocation.maxExecutors", Message: "too many"}}
		}
		d.Jobs = append(d.Jobs, j)
	}
	for _, max := range []int{0, 20000} {
		d.MaxBytes = max
		var buf bytes.Buffer
		if err := d.Write(&buf, "markdown"); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		limit := max
		if limit == 0 {
			limit = DefaultMaxBytes
		}
		if buf.Len() > limit {
			t.Errorf("max %d: %d bytes", max, buf.Len())
		}
		for _, want := range []string{CommentMarker, "**0 added, 0 removed, 200 changed**", "(1 error)", "<details><summary><code>spark/job-150</code>", "changed jobs left out"} {
			if !strings.Contains(out, want) {
				t.Errorf("max %d: the comment does not say %q:\n%s", max, want, out[:min(len(out), 2000)])
			}
		}
		if strings.Index(out, "spark/job-150") > strings.Index(out, "spark/job-000") {
			t.Errorf("max %d: the job introducing an error is not first", max)
		}
	}
}

// TestErrorsOnly (issue 18, item 8): check --errors-only keeps the error
// findings and their jobs, and the counts of the whole path.
func TestErrorsOnly(t *testing.T) {
	r := &Report{Path: "jobs", Jobs: []JobReport{
		{Source: "a.yaml"}, {Source: "b.yaml"},
	}}
	r.Jobs[0].Name, r.Jobs[1].Name = "ok", "bad"
	r.Jobs[0].Findings = []v1alpha1.Finding{{Severity: v1alpha1.SeverityWarning, Rule: "w"}}
	r.Jobs[1].Findings = []v1alpha1.Finding{{Severity: v1alpha1.SeverityWarning, Rule: "w"}, {Severity: v1alpha1.SeverityError, Rule: "e"}}
	var buf bytes.Buffer
	if err := r.ErrorsOnly().Write(&buf, "text"); err != nil {
		t.Fatal(err)
	}
	want := "FAIL /bad  (b.yaml)\n     error   e: -: \n2 jobs, 1 error, 2 warnings\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}
