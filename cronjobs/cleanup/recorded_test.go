package cleanup

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// TestRecorded: a driver may go only once the job loop is done with its
// run — recorded in status.history, or older than every run of a full
// history — and never while the run is active.
func TestRecorded(t *testing.T) {
	at := func(min int) *metav1.Time {
		ts := metav1.NewTime(time.Date(2026, 1, 1, 0, min, 0, 0, time.UTC))
		return &ts
	}
	run := func(name string, start int) v1alpha1.RunStatus {
		return v1alpha1.RunStatus{Name: name, StartTime: at(start), Phase: v1alpha1.RunSucceeded}
	}
	job := &v1alpha1.SparkJob{Status: v1alpha1.SparkJobStatus{
		ActiveRuns: []string{"active"},
		History:    []v1alpha1.RunStatus{run("r5", 5), run("r4", 4), run("r3", 3)},
	}}
	tests := []struct {
		name  string
		run   v1alpha1.RunStatus
		limit int
		want  bool
	}{
		{"recorded", run("r4", 4), 10, true},
		{"active", run("active", 1), 3, false},
		{"not recorded, history not full", run("r1", 1), 10, false},
		{"older than a full history", run("r1", 1), 3, true},
		{"newer than a full history's oldest", run("r6", 6), 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := limitsOf(job, tt.limit)
			if got := l.recorded(&tt.run); got != tt.want {
				t.Errorf("recorded(%s) with limit %d = %t, want %t", tt.run.Name, tt.limit, got, tt.want)
			}
		})
	}
}
