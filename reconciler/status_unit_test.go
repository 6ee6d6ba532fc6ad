package reconciler

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

func TestWriteRuns(t *testing.T) {
	at := func(min int) *metav1.Time {
		ts := metav1.NewTime(time.Date(2025, 1, 1, 0, min, 0, 0, time.UTC))
		return &ts
	}
	run := func(name string, start int, phase v1alpha1.RunPhase) *v1alpha1.RunStatus {
		return &v1alpha1.RunStatus{Name: name, StartTime: at(start), Phase: phase}
	}
	rc := newReconciliation(&v1alpha1.SparkJob{}, time.Now())
	rc.read = true
	for _, r := range []*v1alpha1.RunStatus{
		run("a", 1, v1alpha1.RunSucceeded),
		run("b", 2, v1alpha1.RunFailed),
		run("c", 3, v1alpha1.RunRunning),
		run("d", 4, v1alpha1.RunSucceeded),
		run("e", 5, v1alpha1.RunPending),
	} {
		rc.runs[r.Name] = r
	}
	rc.writeRuns(2)
	st := rc.job.Status
	if st.LastRun == nil || st.LastRun.Name != "e" {
		t.Errorf("lastRun = %+v, want e", st.LastRun)
	}
	if diff := cmp.Diff([]string{"c", "e"}, st.ActiveRuns); diff != "" {
		t.Errorf("activeRuns, oldest first (-want +got):\n%s", diff)
	}
	var history []string
	for _, h := range st.History {
		history = append(history, h.Name)
	}
	if diff := cmp.Diff([]string{"d", "b"}, history); diff != "" {
		t.Errorf("history, newest first and bounded (-want +got):\n%s", diff)
	}

	// Reading the written status back and writing again changes nothing:
	// the steady state writes nothing.
	again := newReconciliation(rc.job.DeepCopy(), time.Now())
	again.readRecorded()
	again.writeRuns(2)
	if diff := cmp.Diff(rc.job.Status, again.job.Status); diff != "" {
		t.Errorf("status not stable across a read and a write (-first +second):\n%s", diff)
	}
}

func TestErrorFindings(t *testing.T) {
	var findings []v1alpha1.Finding
	for i := range 7 {
		findings = append(findings, v1alpha1.Finding{Severity: v1alpha1.SeverityError, Rule: "r", Field: "spec.f", Message: string(rune('a' + i))})
	}
	findings = append(findings, v1alpha1.Finding{Severity: v1alpha1.SeverityWarning, Message: "ignored"})
	want := "spec.f: a (rule 'r'); spec.f: b (rule 'r'); spec.f: c (rule 'r'); spec.f: d (rule 'r'); spec.f: e (rule 'r'); and 2 more"
	if got := errorFindings(findings); got != want {
		t.Errorf("errorFindings =\n%s\nwant\n%s", got, want)
	}
	if got := errorFindings(findings[7:]); got != "" {
		t.Errorf("warnings only: %q, want none", got)
	}
}

// TestNotTerminal: a status write that failed is retried even beside a
// terminal verdict, whose message stays.
func TestNotTerminal(t *testing.T) {
	verdict := reconcile.TerminalError(errors.New("policy violation"))
	conflict := errors.New("status changed while it was reconciled")
	got := notTerminal(verdict, conflict)
	if isTerminal(got) || !errors.Is(got, conflict) || !strings.Contains(got.Error(), "policy violation") {
		t.Errorf("notTerminal = %v (terminal %t), want a retried error naming both", got, isTerminal(got))
	}
	if got := notTerminal(nil, conflict); got != conflict {
		t.Errorf("notTerminal(nil, err) = %v, want err", got)
	}
}
