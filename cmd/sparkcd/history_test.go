package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// insightRuns are a finished run with its record and an older one
// without (recorded before run insight).
func insightRuns(now time.Time) []v1alpha1.RunStatus {
	start := metav1.NewTime(now.Add(-time.Hour))
	end := metav1.NewTime(now.Add(-time.Hour + 2*time.Minute))
	return []v1alpha1.RunStatus{
		{
			Name: "pi-1a2b3c4d", Trigger: v1alpha1.TriggerCommit, Phase: v1alpha1.RunSucceeded, StartTime: &start, CompletionTime: &end,
			Insight: &v1alpha1.RunInsight{
				PeakExecutors: 5, FirstExecutorSeconds: ptr.To[int64](3), DurationSeconds: 120,
				Driver:    v1alpha1.Reserved{MilliCoreSeconds: 120_000, MiBSeconds: 168_960},
				Executors: v1alpha1.Reserved{MilliCoreSeconds: 300_000, MiBSeconds: 422_400},
				Timeline:  v1alpha1.TimelineOf([]v1alpha1.ExecutorPoint{{OffsetMillis: 3000, Executors: 1}, {OffsetMillis: 9000, Executors: 5}, {OffsetMillis: 60_000, Executors: 1}}),
			},
		},
		{Name: "pi-0f0f0f0f", Trigger: v1alpha1.TriggerManual, Phase: v1alpha1.RunFailed, Reason: "LimitExceeded"},
	}
}

// TestHistoryText: one row per run with its phase, start, duration, peak
// and reserved hours; a run recorded before run insight shows dashes.
func TestHistoryText(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	job := &v1alpha1.SparkJob{ObjectMeta: metav1.ObjectMeta{Namespace: "spark", Name: "pi"}}
	runs := insightRuns(now)
	job.Status.LastRun, job.Status.History = &runs[0], runs
	var out strings.Builder
	if err := writeHistory(&out, job, "text", now); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := [][]string{
		{"RUN", "TRIGGER", "PHASE", "STARTED", "DURATION", "PEAK", "EXECUTORS", "CORE-HOURS", "GIB-HOURS"},
		{"pi-1a2b3c4d", "commit", "Succeeded", "2026-12-03T09:00:00Z", "2m0s", "5", "0.117", "0.160"},
		{"pi-0f0f0f0f", "manual", "Failed", "(LimitExceeded)", "-", "-", "-", "-", "-"},
	}
	got := make([][]string, len(lines))
	for i, l := range lines {
		got[i] = strings.Fields(l)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	var detail strings.Builder
	describeJob(&detail, job, now)
	for _, s := range []string{"peak 5, first after 3s, 3 changes", "0.117 core-hours (driver 120, executors 300 core-seconds)", "0.160 GiB-hours (driver 165, executors 412 GiB-seconds)"} {
		if !strings.Contains(detail.String(), s) {
			t.Errorf("status detail lacks %q:\n%s", s, detail.String())
		}
	}
}

// TestHistoryVerb runs history against the API server: the table, the
// runs in full with their timeline as json, a bad -o and a missing job.
func TestHistoryVerb(t *testing.T) {
	e := env.Env(t)
	ns := e.Namespace(t)
	job := piJob(ns)
	if err := e.Client.Create(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	runs := insightRuns(time.Now())
	job.Status.LastRun, job.Status.History = &runs[0], runs
	if err := e.Client.Status().Update(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	kc := []string{"-n", ns, "--kubeconfig", e.Kubeconfig}
	code, out, errOut := cli(t, append([]string{"history", "pi"}, kc...)...)
	if code != 0 || !strings.Contains(out, "pi-1a2b3c4d") || !strings.Contains(out, "0.117") {
		t.Fatalf("history pi: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	code, out, errOut = cli(t, append([]string{"history", "pi", "-o", "json"}, kc...)...)
	var h runHistory
	if err := json.Unmarshal([]byte(out), &h); code != 0 || err != nil {
		t.Fatalf("history -o json: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	if len(h.Runs) != 2 || h.Runs[0].Insight == nil || h.Runs[0].Insight.Timeline.Len() != 3 || h.Job != "pi" {
		t.Errorf("history -o json = %+v, want 2 runs, the first with its 3-point timeline", h)
	}
	if code, _, errOut = cli(t, append([]string{"history", "pi", "-o", "csv"}, kc...)...); code != exitInput || !strings.Contains(errOut, "unknown output format 'csv': use one of text, json, yaml") {
		t.Errorf("history -o csv: exit %d, %s", code, errOut)
	}
	if code, _, errOut = cli(t, append([]string{"history", "missing"}, kc...)...); code != exitInput || !strings.Contains(errOut, "no SparkJob '"+ns+"/missing'") {
		t.Errorf("history missing: exit %d, %s", code, errOut)
	}
}
