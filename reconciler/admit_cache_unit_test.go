package reconciler

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sparkcd/sparkcd/admission"
	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// TestReconciliationIdle: a job is idle — its verdict is forgotten — only
// when no run is active, none waits to start and no retry is pending.
func TestReconciliationIdle(t *testing.T) {
	job := &v1alpha1.SparkJob{ObjectMeta: metav1.ObjectMeta{Namespace: "spark", Name: "pi", UID: "u1"}}
	for _, c := range []struct {
		name string
		set  func(*reconciliation)
		want bool
	}{
		{"nothing ran", func(*reconciliation) {}, true},
		{"last run ended", func(rc *reconciliation) {
			rc.runs["pi-1"] = &v1alpha1.RunStatus{Name: "pi-1", Phase: v1alpha1.RunSucceeded}
		}, true},
		{"a run is active", func(rc *reconciliation) {
			rc.runs["pi-1"] = &v1alpha1.RunStatus{Name: "pi-1", Phase: v1alpha1.RunRunning}
		}, false},
		{"a run waits to start", func(rc *reconciliation) { rc.wait = &waiting{reason: ReasonWaitingForActiveRun} }, false},
		{"a retry is pending", func(rc *reconciliation) { rc.retry = &waiting{retry: time.Minute} }, false},
	} {
		rc := newReconciliation(job.DeepCopy(), time.Now())
		c.set(rc)
		if got := rc.idle(); got != c.want {
			t.Errorf("%s: idle %v, want %v", c.name, got, c.want)
		}
	}
}

// TestVerdictsForget: a forgotten verdict is judged again; another job's
// stays.
func TestVerdictsForget(t *testing.T) {
	v := newVerdicts()
	a := &v1alpha1.SparkJob{ObjectMeta: metav1.ObjectMeta{Namespace: "spark", Name: "a", UID: "ua"}}
	b := &v1alpha1.SparkJob{ObjectMeta: metav1.ObjectMeta{Namespace: "spark", Name: "b", UID: "ub"}}
	v.put(a, "k", admission.Verdict{Job: a.DeepCopy()}, "ha")
	v.put(b, "k", admission.Verdict{Job: b.DeepCopy()}, "hb")
	v.forget(types.NamespacedName{Namespace: "spark", Name: "a"})
	if _, _, ok := v.get(a, "k"); ok {
		t.Error("the forgotten verdict of a is still cached")
	}
	if _, hash, ok := v.get(b, "k"); !ok || hash != "hb" {
		t.Errorf("the verdict of b: %q, %v; want hb, true", hash, ok)
	}
}
