package cleanup_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/sparkcd/sparkcd/cronjobs/cleanup"
	"github.com/sparkcd/sparkcd/cronjobs/schedule"
)

// TestCleanupStart: as a Runnable, the cleanup runs a pass at each tick of
// its schedule on the injected clock, and only then.
func TestCleanupStart(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := e.Namespace(t)
	now := time.Now().Truncate(time.Second)
	if _, err := createDrivers(t.Context(), e.Client, []driverSpec{
		{namespace: ns, name: "old-driver", managed: true, phase: corev1.PodSucceeded, age: 30 * time.Hour},
	}, now, 1); err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(now)
	passes := make(chan cleanup.Report, 4)
	opts := cleanup.DefaultOptions()
	opts.Clock, opts.Namespaces = clk, []string{ns}
	opts.OnPass = func(r cleanup.Report, err error) {
		if err != nil {
			t.Errorf("pass: %v", err)
		}
		passes <- r
	}
	cl, err := cleanup.New(e.Client, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !cl.NeedLeaderElection() {
		t.Error("the cleanup runs on every replica, want the leader only")
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- cl.Start(ctx) }()

	sched, err := schedule.Parse(cleanup.DefaultSchedule, "")
	if err != nil {
		t.Fatal(err)
	}
	for i, wantDeleted := range []int{1, 0} {
		eventually(t, "the cleanup to wait for its tick", func() (bool, string) { return clk.HasWaiters(), "no timer" })
		// The alert on a cleanup that stopped reads the tick it waits for.
		if got, want := gauge(t, "sparkcd_cleanup_next_pass_timestamp_seconds"), float64(sched.Next(clk.Now()).Unix()); got != want {
			t.Errorf("sparkcd_cleanup_next_pass_timestamp_seconds = %v, want %v", got, want)
		}
		select {
		case r := <-passes:
			t.Fatalf("a pass ran before its tick: %v", r)
		default:
		}
		clk.SetTime(sched.Next(clk.Now()))
		select {
		case r := <-passes:
			if len(r.Deleted) != wantDeleted {
				t.Errorf("pass %d deleted %d drivers, want %d", i, len(r.Deleted), wantDeleted)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("no pass %d after its tick", i)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Start: %v", err)
	}
}

// gauge reads a gauge without labels from the registry /metrics serves.
func gauge(t *testing.T, name string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s on /metrics", name)
	return 0
}
