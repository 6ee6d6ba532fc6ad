package admission

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/materialize"
)

// countingPolicies counts the jobs it is asked to judge and warns on each.
type countingPolicies struct{ n int }

func (p *countingPolicies) Apply(job *v1alpha1.SparkJob) (*v1alpha1.SparkJob, []v1alpha1.Finding) {
	p.n++
	return job, []v1alpha1.Finding{{Severity: v1alpha1.SeverityWarning, Rule: "counted", Message: "judged"}}
}

// TestMemo: an equal job is judged once, and each caller gets its own
// copy of the verdict; a changed job is judged again.
func TestMemo(t *testing.T) {
	b, err := os.ReadFile("../reconciler/testdata/pi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	job := &v1alpha1.SparkJob{}
	if err := yaml.Unmarshal(b, job); err != nil {
		t.Fatal(err)
	}
	job.Namespace = "spark"
	p := &countingPolicies{}
	opts := Options{Policies: p, Materialize: materialize.DefaultOptions()}
	memo := NewMemo()

	first := memo.job(job, opts)
	second := memo.job(job.DeepCopy(), opts)
	if p.n != 1 {
		t.Fatalf("an equal job judged %d times, want 1", p.n)
	}
	if diff := cmp.Diff(Job(job, opts), second); diff != "" {
		t.Errorf("remembered verdict differs from a fresh one (-fresh +remembered):\n%s", diff)
	}
	first.Job.Spec.Arguments = []string{"changed by the first caller"}
	first.Findings[0].Message = "changed by the first caller"
	if third := memo.job(job, opts); third.Job.Spec.Arguments != nil && third.Job.Spec.Arguments[0] == "changed by the first caller" ||
		third.Findings[0].Message != "judged" {
		t.Errorf("a caller's change reached the memo: %v, %q", third.Job.Spec.Arguments, third.Findings[0].Message)
	}

	changed := job.DeepCopy()
	changed.Spec.Arguments = []string{"200"}
	before := p.n
	if v := memo.job(changed, opts); p.n != before+1 || v.Job.Spec.Arguments[0] != "200" {
		t.Errorf("a changed job: judged %d more times, arguments %v; want judged once more, [200]", p.n-before, v.Job.Spec.Arguments)
	}
}
