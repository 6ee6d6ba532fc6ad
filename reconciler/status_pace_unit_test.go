package reconciler

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// TestExecutorsOnly: a status write is held back only when a running
// run's executor count and insight, and the messages naming the count,
// are all that changed.
func TestExecutorsOnly(t *testing.T) {
	status := func(phase v1alpha1.RunPhase, executors int32, at time.Time) *v1alpha1.SparkJobStatus {
		run := &v1alpha1.RunStatus{Name: "pi-1", Phase: phase, Executors: executors}
		if executors > 0 {
			run.Insight = &v1alpha1.RunInsight{PeakExecutors: executors}
		}
		msg := "run 'pi-1' is pending"
		if phase == v1alpha1.RunRunning {
			msg = runningMessage(run)
		}
		return &v1alpha1.SparkJobStatus{
			Conditions: []metav1.Condition{
				{Type: "Ready", Status: metav1.ConditionUnknown, Reason: "Progressing", Message: msg, LastTransitionTime: metav1.NewTime(at)},
				{Type: "Reconciling", Status: metav1.ConditionTrue, Reason: ReasonRunRunning, Message: msg, LastTransitionTime: metav1.NewTime(at)},
			},
			LastRun:    run,
			ActiveRuns: []string{"pi-1"},
		}
	}
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Second)
	withHistory := status(v1alpha1.RunRunning, 5, t1)
	withHistory.History = []v1alpha1.RunStatus{{Name: "pi-0", Phase: v1alpha1.RunSucceeded}}
	tests := []struct {
		name string
		a, b *v1alpha1.SparkJobStatus
		want bool
	}{
		{"no change", status(v1alpha1.RunRunning, 3, t0), status(v1alpha1.RunRunning, 3, t0), false},
		{"executors and their messages", status(v1alpha1.RunRunning, 3, t0), status(v1alpha1.RunRunning, 5, t1), true},
		{"first executor", status(v1alpha1.RunRunning, 0, t0), status(v1alpha1.RunRunning, 1, t1), true},
		{"phase", status(v1alpha1.RunPending, 0, t0), status(v1alpha1.RunRunning, 0, t1), false},
		{"phase and executors", status(v1alpha1.RunRunning, 5, t0), status(v1alpha1.RunSucceeded, 0, t1), false},
		{"history", status(v1alpha1.RunRunning, 3, t0), withHistory, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := executorsOnly(tt.a, tt.b); got != tt.want {
				t.Errorf("executorsOnly = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestWrittenStatusStale: a job read at the version the loop's last status
// write replaced is stale until the cache moves past it, and only a
// deferred job's next update wakes it.
func TestWrittenStatusStale(t *testing.T) {
	w := newWrittenStatus()
	job := &v1alpha1.SparkJob{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "pi", ResourceVersion: "10"}}
	wake := w.wakePredicate()
	if w.stale(job) {
		t.Fatal("stale before any write")
	}
	w.wrote(types.NamespacedName{Namespace: "ns", Name: "pi"}, "10")
	newer := job.DeepCopy()
	newer.ResourceVersion = "11"
	if wake.Update(event.UpdateEvent{ObjectOld: job, ObjectNew: newer}) {
		t.Error("an update woke a job no reconcile waits for")
	}
	if !w.stale(job) {
		t.Fatal("the version the write replaced is not stale")
	}
	if !wake.Update(event.UpdateEvent{ObjectOld: job, ObjectNew: newer}) {
		t.Error("the update a deferred reconcile waits for did not wake it")
	}
	if w.stale(newer) || w.stale(job) {
		t.Error("stale once the cache moved past the write")
	}
	if _, ok := w.lastWrite(types.NamespacedName{Namespace: "ns", Name: "pi"}); !ok {
		t.Error("the write's time is forgotten")
	}
}
