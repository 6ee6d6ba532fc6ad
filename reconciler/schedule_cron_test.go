package reconciler_test

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/cronjobs/schedule"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/runid"
)

// hourly is the schedule of these tests: the fake clock moves an hour at a
// time.
const hourly = "0 * * * *"

var pokes atomic.Int64

// poke wakes the loop for a job, as the requeue at its next tick would
// once the fake clock has moved there: a new annotation value is an event.
func poke(t testing.TB, e *testenv.Env, ns, name string) {
	t.Helper()
	n := strconv.FormatInt(pokes.Add(1), 10)
	updateJob(t, e, ns, name, func(j *v1alpha1.SparkJob) {
		if j.Annotations == nil {
			j.Annotations = map[string]string{}
		}
		j.Annotations["test.sparkcd.io/poke"] = n
	})
}

// scheduledLoop starts a job loop with the cron Scheduler on a fake clock
// set to now.
func scheduledLoop(t testing.TB, e *testenv.Env, ns string) *clocktesting.FakeClock {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Now())
	startLoop(t, e, reconciler.JobOptions{Scheduler: schedule.NewScheduler(), Clock: clk}, ns)
	return clk
}

// ticks returns the first n hourly ticks after the job's creation.
func ticks(t testing.TB, job *v1alpha1.SparkJob, n int) []time.Time {
	t.Helper()
	sched, err := schedule.Parse(job.Spec.Schedule, job.Spec.TimeZone)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]time.Time, n)
	at := job.CreationTimestamp.Time
	for i := range out {
		at = sched.Next(at)
		out[i] = at
	}
	return out
}

// createScheduled creates an hourly job and returns it as created.
func createScheduled(t testing.TB, e *testenv.Env, ns, name string, mutate ...func(*v1alpha1.SparkJob)) *v1alpha1.SparkJob {
	t.Helper()
	job := piJob(t, ns, name, append([]func(*v1alpha1.SparkJob){func(j *v1alpha1.SparkJob) { j.Spec.Schedule = hourly }}, mutate...)...)
	if err := e.Client.Create(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	return waitJob(t, e, ns, name, "a next schedule time", func(j *v1alpha1.SparkJob) bool { return j.Status.NextScheduleTime != nil })
}

// runAt waits for the job's last run to be the one of tick.
func runAt(t testing.TB, e *testenv.Env, job *v1alpha1.SparkJob, tick time.Time) *v1alpha1.SparkJob {
	t.Helper()
	want := runid.ScheduledRunName(job.Name, tick)
	return waitJob(t, e, job.Namespace, job.Name, "the run of tick "+tick.UTC().Format(time.RFC3339), func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun != nil && j.Status.LastRun.Name == want
	})
}

// TestScheduleConcurrencyPolicies: at a tick while the previous tick's run
// is still running, Forbid waits for it to end, Replace deletes its driver
// and starts the new run, Allow starts alongside; nextScheduleTime follows
// the clock.
func TestScheduleConcurrencyPolicies(t *testing.T) {
	t.Parallel()
	for _, policy := range []v1alpha1.ConcurrencyPolicy{"", v1alpha1.ForbidConcurrent, v1alpha1.ReplaceConcurrent, v1alpha1.AllowConcurrent} {
		name := "policy-" + map[v1alpha1.ConcurrencyPolicy]string{"": "empty"}[policy]
		if policy != "" {
			name = "policy-" + string(policy)
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := env.Env(t)
			ns := sparkNamespace(t, e)
			clk := scheduledLoop(t, e, ns)
			job := createScheduled(t, e, ns, "cron", func(j *v1alpha1.SparkJob) { j.Spec.ConcurrencyPolicy = policy })
			tk := ticks(t, job, 3)
			if got := job.Status.NextScheduleTime.Time; !got.Equal(tk[0]) {
				t.Errorf("nextScheduleTime %s, want %s", got, tk[0])
			}

			clk.SetTime(tk[0].Add(time.Second))
			poke(t, e, ns, job.Name)
			first := runAt(t, e, job, tk[0]).Status.LastRun.Name
			setPodStatus(t, e, ns, runid.DriverPodName(first), running)
			lastRunIn(t, e, ns, job.Name, v1alpha1.RunRunning)

			clk.SetTime(tk[1].Add(time.Second))
			poke(t, e, ns, job.Name)
			second := runid.ScheduledRunName(job.Name, tk[1])
			switch policy {
			case "", v1alpha1.ForbidConcurrent:
				waitJob(t, e, ns, job.Name, "the tick's run to wait", func(j *v1alpha1.SparkJob) bool {
					c := apimeta.FindStatusCondition(j.Status.Conditions, meta.ReconcilingCondition)
					return c != nil && c.Reason == reconciler.ReasonWaitingForActiveRun
				})
				assertDriversStay(t, e, ns, job.Name, 1)
				setPodStatus(t, e, ns, runid.DriverPodName(first), succeeded)
				got := runAt(t, e, job, tk[1])
				if len(got.Status.History) != 1 || got.Status.History[0].Name != first {
					t.Errorf("history %+v, want the first run", got.Status.History)
				}
				assertDriversStay(t, e, ns, job.Name, 2)
			case v1alpha1.ReplaceConcurrent:
				got := runAt(t, e, job, tk[1])
				if len(got.Status.History) != 1 || got.Status.History[0].Reason != runid.ReasonReplaced {
					t.Errorf("history %+v, want the first run, replaced", got.Status.History)
				}
				eventually(t, "only the new driver", func() (bool, string) {
					pods := drivers(t, e, ns, job.Name)
					return len(pods) == 1 && pods[0].Name == runid.DriverPodName(second), fmt.Sprintf("%d drivers", len(pods))
				})
			case v1alpha1.AllowConcurrent:
				got := runAt(t, e, job, tk[1])
				if len(got.Status.ActiveRuns) != 2 {
					t.Errorf("activeRuns %v, want both runs", got.Status.ActiveRuns)
				}
				assertDriversStay(t, e, ns, job.Name, 2)
			}
			got := getJob(t, e, ns, job.Name)
			if got.Status.LastScheduleTime == nil || !got.Status.LastScheduleTime.Time.Equal(tk[1]) {
				t.Errorf("lastScheduleTime %v, want %s", got.Status.LastScheduleTime, tk[1])
			}
			if got.Status.NextScheduleTime == nil || !got.Status.NextScheduleTime.Time.Equal(tk[2]) {
				t.Errorf("nextScheduleTime %v, want %s", got.Status.NextScheduleTime, tk[2])
			}
		})
	}
}

// TestScheduleMissedTicks: a tick missed by a few minutes runs late within
// startingDeadlineSeconds; ticks missed by more do not run at all, however
// many; the next tick runs on time, once.
func TestScheduleMissedTicks(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	clk := scheduledLoop(t, e, ns)
	job := createScheduled(t, e, ns, "missed", func(j *v1alpha1.SparkJob) { j.Spec.StartingDeadlineSeconds = ptr.To[int64](600) })
	tk := ticks(t, job, 5)

	// Five minutes late: inside the ten-minute deadline.
	clk.SetTime(tk[0].Add(5 * time.Minute))
	poke(t, e, ns, job.Name)
	run := runAt(t, e, job, tk[0]).Status.LastRun.Name
	setPodStatus(t, e, ns, runid.DriverPodName(run), succeeded)
	lastRunIn(t, e, ns, job.Name, v1alpha1.RunSucceeded)

	// Down across two ticks, back twenty minutes after the second: outside.
	clk.SetTime(tk[2].Add(20 * time.Minute))
	poke(t, e, ns, job.Name)
	waitJob(t, e, ns, job.Name, "the next schedule time after the missed ticks", func(j *v1alpha1.SparkJob) bool {
		return j.Status.NextScheduleTime != nil && j.Status.NextScheduleTime.Time.Equal(tk[3])
	})
	assertDriversStay(t, e, ns, job.Name, 1)

	clk.SetTime(tk[3])
	poke(t, e, ns, job.Name)
	runAt(t, e, job, tk[3])
	assertDriversStay(t, e, ns, job.Name, 2)
}

// TestScheduleSuspendResume: no tick starts while a job is suspended; on
// resume, the tick missed meanwhile runs only within the deadline — always,
// without one, as for a CronJob.
func TestScheduleSuspendResume(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		deadline *int64
		runs     bool
	}{
		{"no-deadline", nil, true},
		{"deadline", ptr.To[int64](600), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := env.Env(t)
			ns := sparkNamespace(t, e)
			clk := scheduledLoop(t, e, ns)
			job := createScheduled(t, e, ns, tt.name, func(j *v1alpha1.SparkJob) {
				j.Spec.Suspend, j.Spec.StartingDeadlineSeconds = ptr.To(true), tt.deadline
			})
			tk := ticks(t, job, 2)

			clk.SetTime(tk[0].Add(time.Second))
			poke(t, e, ns, job.Name)
			waitJob(t, e, ns, job.Name, "the next tick while suspended", func(got *v1alpha1.SparkJob) bool {
				return got.Status.NextScheduleTime != nil && got.Status.NextScheduleTime.Time.Equal(tk[1])
			})
			assertDriversStay(t, e, ns, job.Name, 0)

			// Resumed half an hour after the tick.
			clk.SetTime(tk[0].Add(30 * time.Minute))
			updateJob(t, e, ns, job.Name, func(j *v1alpha1.SparkJob) { j.Spec.Suspend = nil })
			if tt.runs {
				run := runAt(t, e, job, tk[0]).Status.LastRun.Name
				assertDriversStay(t, e, ns, job.Name, 1)
				setPodStatus(t, e, ns, runid.DriverPodName(run), succeeded)
				lastRunIn(t, e, ns, job.Name, v1alpha1.RunSucceeded)
			} else {
				waitJob(t, e, ns, job.Name, "the resumed job to be ready", func(got *v1alpha1.SparkJob) bool {
					return got.Status.ObservedGeneration == got.Generation
				})
				assertDriversStay(t, e, ns, job.Name, 0)
			}

			// The next tick runs on time either way.
			clk.SetTime(tk[1])
			poke(t, e, ns, job.Name)
			runAt(t, e, job, tk[1])
		})
	}
}

// TestTwoSchedulers: two job loops, each with its own Scheduler and clock,
// against one API server start each tick once: the run named after the
// tick is created by one and found by the other.
func TestTwoSchedulers(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	a := scheduledLoop(t, e, ns)
	b := scheduledLoop(t, e, ns)
	job := createScheduled(t, e, ns, "twice", func(j *v1alpha1.SparkJob) { j.Spec.ConcurrencyPolicy = v1alpha1.AllowConcurrent })
	tk := ticks(t, job, 3)
	for i, tick := range tk {
		a.SetTime(tick.Add(time.Second))
		b.SetTime(tick.Add(time.Second))
		poke(t, e, ns, job.Name)
		runAt(t, e, job, tick)
		assertDriversStay(t, e, ns, job.Name, i+1)
	}
	got := getJob(t, e, ns, job.Name)
	if len(got.Status.ActiveRuns) != len(tk) {
		t.Errorf("activeRuns %v, want one run per tick", got.Status.ActiveRuns)
	}
}
