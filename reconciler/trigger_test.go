package reconciler_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/runid"
)

// settle is how long a test watches for something that must not happen.
const settle = 2 * time.Second

// updateJob changes a SparkJob's spec or metadata, retrying conflicts.
func updateJob(t testing.TB, e *testenv.Env, ns, name string, mutate func(*v1alpha1.SparkJob)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		job := getJob(t, e, ns, name)
		mutate(job)
		return e.Client.Update(context.Background(), job)
	})
	if err != nil {
		t.Fatalf("update SparkJob '%s/%s': %v", ns, name, err)
	}
}

// assertDriversStay checks for settle that the job keeps exactly n drivers.
func assertDriversStay(t testing.TB, e *testenv.Env, ns, job string, n int) {
	t.Helper()
	deadline := time.Now().Add(settle)
	for time.Now().Before(deadline) {
		if got := len(drivers(t, e, ns, job)); got != n {
			t.Fatalf("%d drivers, want %d", got, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRestartStartsNothing: a loop that comes back starts no run for a job
// that already had its run, and writes nothing at all.
func TestRestartStartsNothing(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	first := startLoop(t, e, reconciler.JobOptions{}, ns)
	ctx := context.Background()
	for i := range 3 {
		if err := e.Client.Create(ctx, piJob(t, ns, fmt.Sprintf("restart-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	run := lastRunIn(t, e, ns, "restart-0", v1alpha1.RunPending)
	setPodStatus(t, e, ns, runid.DriverPodName(run.Name), running)
	lastRunIn(t, e, ns, "restart-0", v1alpha1.RunRunning)
	setPodStatus(t, e, ns, runid.DriverPodName(run.Name), succeeded)
	lastRunIn(t, e, ns, "restart-0", v1alpha1.RunSucceeded)
	for i := 1; i < 3; i++ {
		lastRunIn(t, e, ns, fmt.Sprintf("restart-%d", i), v1alpha1.RunPending)
	}
	first.stop()
	before := getJob(t, e, ns, "restart-0").ResourceVersion

	second := startLoop(t, e, reconciler.JobOptions{}, ns)
	for i := range 3 {
		assertDriversStay(t, e, ns, fmt.Sprintf("restart-%d", i), 1)
	}
	if n := second.writes.Load(); n != 0 {
		t.Errorf("the restarted loop wrote %d times, want 0", n)
	}
	if after := getJob(t, e, ns, "restart-0").ResourceVersion; after != before {
		t.Errorf("the SparkJob changed across the restart (resourceVersion %s → %s)", before, after)
	}
}

// TestSpecChange: a spec change while a run is active follows
// concurrencyPolicy — Forbid waits for the run to end, Replace deletes its
// driver and starts at once, Allow starts alongside.
func TestSpecChange(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	startLoop(t, e, reconciler.JobOptions{}, ns)
	for _, policy := range []v1alpha1.ConcurrencyPolicy{v1alpha1.ForbidConcurrent, v1alpha1.ReplaceConcurrent, v1alpha1.AllowConcurrent} {
		t.Run(string(policy), func(t *testing.T) {
			job := piJob(t, ns, "change-"+strings.ToLower(string(policy)), func(j *v1alpha1.SparkJob) { j.Spec.ConcurrencyPolicy = policy })
			if err := e.Client.Create(context.Background(), job); err != nil {
				t.Fatal(err)
			}
			first := lastRunIn(t, e, ns, job.Name, v1alpha1.RunPending)
			setPodStatus(t, e, ns, runid.DriverPodName(first.Name), running)
			lastRunIn(t, e, ns, job.Name, v1alpha1.RunRunning)

			updateJob(t, e, ns, job.Name, func(j *v1alpha1.SparkJob) { j.Spec.Arguments = []string{"1000"} })
			changed := getJob(t, e, ns, job.Name)
			next := runid.OfflineRun(changed, "")

			switch policy {
			case v1alpha1.ForbidConcurrent:
				waiting := waitJob(t, e, ns, job.Name, "the new run to wait", func(j *v1alpha1.SparkJob) bool {
					c := apimeta.FindStatusCondition(j.Status.Conditions, meta.ReconcilingCondition)
					return c != nil && c.Reason == reconciler.ReasonWaitingForActiveRun
				})
				if waiting.Status.ObservedGeneration == waiting.Generation {
					t.Errorf("observedGeneration %d moved while the new spec waits", waiting.Status.ObservedGeneration)
				}
				assertDriversStay(t, e, ns, job.Name, 1)
				setPodStatus(t, e, ns, runid.DriverPodName(first.Name), succeeded)
				got := waitJob(t, e, ns, job.Name, "the new run after the first ended", func(j *v1alpha1.SparkJob) bool {
					return j.Status.LastRun != nil && j.Status.LastRun.Name == next.Name
				})
				if len(got.Status.History) != 1 || got.Status.History[0].Phase != v1alpha1.RunSucceeded {
					t.Errorf("history %+v, want the first run, succeeded", got.Status.History)
				}
				if got.Status.ObservedGeneration != got.Generation || got.Status.SpecHash != next.SpecHash {
					t.Errorf("observedGeneration %d (generation %d), specHash %s (want %s)", got.Status.ObservedGeneration, got.Generation, got.Status.SpecHash, next.SpecHash)
				}
				assertDriversStay(t, e, ns, job.Name, 2)
			case v1alpha1.ReplaceConcurrent:
				got := waitJob(t, e, ns, job.Name, "the replacing run", func(j *v1alpha1.SparkJob) bool {
					return j.Status.LastRun != nil && j.Status.LastRun.Name == next.Name
				})
				if len(got.Status.History) != 1 || got.Status.History[0].Reason != runid.ReasonReplaced {
					t.Errorf("history %+v, want the first run, %s", got.Status.History, runid.ReasonReplaced)
				}
				eventually(t, "only the new driver", func() (bool, string) {
					pods := drivers(t, e, ns, job.Name)
					return len(pods) == 1 && pods[0].Name == runid.DriverPodName(next.Name), fmt.Sprintf("%d drivers", len(pods))
				})
			case v1alpha1.AllowConcurrent:
				got := waitJob(t, e, ns, job.Name, "a second active run", func(j *v1alpha1.SparkJob) bool {
					return j.Status.LastRun != nil && j.Status.LastRun.Name == next.Name && len(j.Status.ActiveRuns) == 2
				})
				if !slices.Contains(got.Status.ActiveRuns, first.Name) {
					t.Errorf("activeRuns %v, want %s still active", got.Status.ActiveRuns, first.Name)
				}
				assertDriversStay(t, e, ns, job.Name, 2)
			}
		})
	}
}

// TestManualRun: a new value of the run-requested-at annotation starts one
// run; the same value again starts nothing.
func TestManualRun(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	startLoop(t, e, reconciler.JobOptions{}, ns)
	ctx := context.Background()
	if err := e.Client.Create(ctx, piJob(t, ns, "manual")); err != nil {
		t.Fatal(err)
	}
	first := lastRunIn(t, e, ns, "manual", v1alpha1.RunPending)
	setPodStatus(t, e, ns, runid.DriverPodName(first.Name), succeeded)
	lastRunIn(t, e, ns, "manual", v1alpha1.RunSucceeded)

	key := types.NamespacedName{Namespace: ns, Name: "manual"}
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	if err := reconciler.RequestRun(ctx, e.Client, key, at); err != nil {
		t.Fatal(err)
	}
	got := waitJob(t, e, ns, "manual", "a manual run", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun != nil && j.Status.LastRun.Name != first.Name
	})
	if got.Status.LastRun.Trigger != v1alpha1.TriggerManual || got.Status.LastHandledRunRequest != got.Annotations[v1alpha1.AnnotationRunRequestedAt] {
		t.Errorf("last run %+v, lastHandledRunRequest %q; want a manual run answering the request", got.Status.LastRun, got.Status.LastHandledRunRequest)
	}
	waitEvent(t, e, ns, "manual", reconciler.EventRunStarted)
	second := got.Status.LastRun.Name
	setPodStatus(t, e, ns, runid.DriverPodName(second), succeeded)
	lastRunIn(t, e, ns, "manual", v1alpha1.RunSucceeded)

	if err := reconciler.RequestRun(ctx, e.Client, key, at); err != nil {
		t.Fatal(err)
	}
	assertDriversStay(t, e, ns, "manual", 2)
	if err := reconciler.RequestRun(ctx, e.Client, key, at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	waitJob(t, e, ns, "manual", "a second manual run", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun != nil && j.Status.LastRun.Name != second && j.Status.LastRun.Name != first.Name
	})
	assertDriversStay(t, e, ns, "manual", 3)
}

// TestSuspend: a suspended job starts nothing until it is resumed.
func TestSuspend(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	startLoop(t, e, reconciler.JobOptions{}, ns)
	job := piJob(t, ns, "suspended", func(j *v1alpha1.SparkJob) { j.Spec.Suspend = ptr.To(true) })
	if err := e.Client.Create(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	got := waitJob(t, e, ns, job.Name, "Ready Suspended", func(j *v1alpha1.SparkJob) bool {
		c := apimeta.FindStatusCondition(j.Status.Conditions, meta.ReadyCondition)
		return c != nil && c.Reason == meta.SuspendedReason
	})
	if got.Status.LastRun != nil {
		t.Errorf("a suspended job has a run: %+v", got.Status.LastRun)
	}
	if err := reconciler.RequestRun(context.Background(), e.Client, keyOf(job), time.Now()); err != nil {
		t.Fatal(err)
	}
	assertDriversStay(t, e, ns, job.Name, 0)
	updateJob(t, e, ns, job.Name, func(j *v1alpha1.SparkJob) { j.Spec.Suspend = nil })
	lastRunIn(t, e, ns, job.Name, v1alpha1.RunPending)
	assertDriversStay(t, e, ns, job.Name, 1)
}

// keyOf is the key of a job.
func keyOf(job *v1alpha1.SparkJob) types.NamespacedName {
	return types.NamespacedName{Namespace: job.Namespace, Name: job.Name}
}

// fakeScheduler has one tick due, once.
type fakeScheduler struct {
	mu   sync.Mutex
	tick time.Time
}

func (s *fakeScheduler) Due(_ *v1alpha1.SparkJob, last, now time.Time) (time.Time, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := now.Add(time.Hour)
	if s.tick.After(last) && !s.tick.After(now) {
		return s.tick, next, nil
	}
	return time.Time{}, next, nil
}

// TestScheduledRun: a job with a schedule starts no run for its spec, and
// one run for a tick the Scheduler says is due, named after the tick.
func TestScheduledRun(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	sched := &fakeScheduler{}
	startLoop(t, e, reconciler.JobOptions{Scheduler: sched}, ns)
	job := piJob(t, ns, "nightly", func(j *v1alpha1.SparkJob) { j.Spec.Schedule = "0 2 * * *" })
	if err := e.Client.Create(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	got := waitJob(t, e, ns, job.Name, "a next schedule time", func(j *v1alpha1.SparkJob) bool {
		return j.Status.NextScheduleTime != nil && apimeta.IsStatusConditionTrue(j.Status.Conditions, meta.ReadyCondition)
	})
	if got.Status.LastRun != nil {
		t.Fatalf("a scheduled job ran for its spec: %+v", got.Status.LastRun)
	}
	// A tick after the job's creation, when the Scheduler starts counting.
	tick := got.CreationTimestamp.Add(time.Second)
	time.Sleep(time.Until(tick))
	sched.mu.Lock()
	sched.tick = tick
	sched.mu.Unlock()
	// A spec change wakes the loop, as the next tick's requeue would.
	updateJob(t, e, ns, job.Name, func(j *v1alpha1.SparkJob) { j.Spec.Arguments = []string{"5"} })
	run := lastRunIn(t, e, ns, job.Name, v1alpha1.RunPending)
	if want := runid.ScheduledRunName(job.Name, tick); run.Name != want || run.Trigger != v1alpha1.TriggerSchedule {
		t.Errorf("scheduled run %+v, want %s triggered by the schedule", run, want)
	}
	got = getJob(t, e, ns, job.Name)
	if got.Status.LastScheduleTime == nil || !got.Status.LastScheduleTime.Time.Equal(tick) {
		t.Errorf("lastScheduleTime %v, want %v", got.Status.LastScheduleTime, tick)
	}
	assertDriversStay(t, e, ns, job.Name, 1)
}
