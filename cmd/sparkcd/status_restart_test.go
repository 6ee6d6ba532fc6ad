package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// TestStatusShowsAttempts: the job table shows the last run's attempt
// number and the restart policy's next attempt.
func TestStatusShowsAttempts(t *testing.T) {
	now := time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)
	job := v1alpha1.SparkJob{ObjectMeta: metav1.ObjectMeta{Namespace: "spark", Name: "etl", CreationTimestamp: metav1.NewTime(now.Add(-time.Hour))}}
	job.Status.LastRun = &v1alpha1.RunStatus{Name: "etl-a0123456789", Phase: v1alpha1.RunFailed, Reason: "Error", Attempt: 2, RetryOf: "etl-1a2b3c4d"}
	job.Status.NextAttempt = &v1alpha1.NextAttempt{Run: "etl-a9876543210", Attempt: 3, Time: metav1.NewTime(now.Add(time.Minute)), After: "etl-a0123456789"}
	var out bytes.Buffer
	if err := writeStatusText(&out, nil, []v1alpha1.SparkJob{job}, now); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	for _, want := range []string{"ATTEMPT", "NEXT ATTEMPT"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("header %q lacks %s", lines[0], want)
		}
	}
	fields := strings.Fields(lines[1])
	if got := strings.Join(fields[3:10], " "); got != "etl-a0123456789 Failed (Error) 2 0 0 3" {
		t.Errorf("row %q: want run, phase, attempt 2, executors, active, next attempt 3", lines[1])
	}
	if !strings.Contains(lines[1], "3 at 2026-12-02T18:01:00Z") {
		t.Errorf("row %q lacks the next attempt's time", lines[1])
	}
}
