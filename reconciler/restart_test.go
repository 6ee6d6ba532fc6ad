package reconciler_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/cronjobs/cleanup"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/runid"
)

// restartJob creates a job with the restart policy, and returns it as
// created.
func restartJob(t *testing.T, e *testenv.Env, ns, name string, rp v1alpha1.RestartPolicy) *v1alpha1.SparkJob {
	t.Helper()
	job := piJob(t, ns, name, func(j *v1alpha1.SparkJob) { j.Spec.RestartPolicy = &rp })
	if err := e.Client.Create(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	return job
}

// endedAt is a driver status that ended in phase at the given time.
func endedAt(phase corev1.PodPhase, at time.Time) func(*corev1.PodStatus) {
	return func(s *corev1.PodStatus) {
		code, reason := int32(0), "Completed"
		if phase == corev1.PodFailed {
			code, reason = 1, "Error"
		}
		ts := metav1.NewTime(at)
		s.Phase = phase
		s.ContainerStatuses = []corev1.ContainerStatus{{
			Name: "spark-kubernetes-driver", Image: "apache/spark:3.5.3",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, StartedAt: ts, FinishedAt: ts}},
		}}
	}
}

// endRun ends a run's driver now by the fake clock, and returns that time.
func endRun(t *testing.T, e *testenv.Env, clk *clocktesting.FakeClock, ns, run string, phase corev1.PodPhase) time.Time {
	t.Helper()
	at := clk.Now().Truncate(time.Second)
	setPodStatus(t, e, ns, runid.DriverPodName(run), endedAt(phase, at))
	return at
}

// waitNextAttempt waits for status.nextAttempt to name attempt n at the
// given time, and returns it.
func waitNextAttempt(t *testing.T, e *testenv.Env, ns, job string, n int32, at time.Time) *v1alpha1.NextAttempt {
	t.Helper()
	got := waitJob(t, e, ns, job, fmt.Sprintf("attempt %d at %s", n, at.UTC().Format(time.RFC3339)), func(j *v1alpha1.SparkJob) bool {
		a := j.Status.NextAttempt
		return a != nil && a.Attempt == n && a.Time.Time.Equal(at)
	})
	return got.Status.NextAttempt
}

// waitAttempt waits for the job's last run to be attempt n after run
// after, and returns it.
func waitAttempt(t *testing.T, e *testenv.Env, ns, job string, n int32, after string) v1alpha1.RunStatus {
	t.Helper()
	got := waitJob(t, e, ns, job, fmt.Sprintf("attempt %d after '%s'", n, after), func(j *v1alpha1.SparkJob) bool {
		r := j.Status.LastRun
		return r != nil && r.Attempt == n && r.RetryOf == after && j.Status.NextAttempt == nil
	})
	return *got.Status.LastRun
}

// attemptName is the name of the attempt that follows run, as the job
// loop derives it.
func attemptName(job *v1alpha1.SparkJob, after string, attempt int) string {
	return runid.RunName(job.Name, "a"+runid.DigestOf(string(job.UID), after, strconv.Itoa(attempt))[:runid.MaxRunSuffixLength-1])
}

// TestRestartOnFailure: with onFailureRetries 2 a failed run is followed
// by exactly two new attempts, each starting no earlier than k ×
// onFailureRetryInterval after attempt k ended; the third failure stays.
func TestRestartOnFailure(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	clk := clocktesting.NewFakeClock(time.Now())
	startLoop(t, e, reconciler.JobOptions{Clock: clk}, ns)
	job := restartJob(t, e, ns, "onfailure", v1alpha1.RestartPolicy{
		Type: v1alpha1.RestartOnFailure, OnFailureRetries: ptr.To(int32(2)), OnFailureRetryInterval: ptr.To(int64(30)),
	})
	run := lastRunIn(t, e, ns, job.Name, v1alpha1.RunPending)
	job = getJob(t, e, ns, job.Name)
	for k := 1; k <= 2; k++ {
		ended := endRun(t, e, clk, ns, run.Name, corev1.PodFailed)
		due := ended.Add(time.Duration(30*k) * time.Second)
		next := waitNextAttempt(t, e, ns, job.Name, int32(k+1), due)
		if want := attemptName(job, run.Name, k+1); next.Run != want || next.After != run.Name {
			t.Fatalf("next attempt %+v, want run '%s' after '%s'", next, want, run.Name)
		}
		if j := getJob(t, e, ns, job.Name); !readyReason(t, j, reconciler.ReasonRetryScheduled) {
			t.Errorf("Ready reason %q, want %s", readyReasonOf(j), reconciler.ReasonRetryScheduled)
		}
		clk.SetTime(due.Add(-time.Second))
		poke(t, e, ns, job.Name)
		assertDriversStay(t, e, ns, job.Name, k)
		clk.SetTime(due)
		poke(t, e, ns, job.Name)
		run = waitAttempt(t, e, ns, job.Name, int32(k+1), run.Name)
		if run.Name != next.Run {
			t.Fatalf("attempt %d is run '%s', status.nextAttempt named '%s'", k+1, run.Name, next.Run)
		}
	}
	endRun(t, e, clk, ns, run.Name, corev1.PodFailed)
	got := waitJob(t, e, ns, job.Name, "the third failure, stalled", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun.Phase == v1alpha1.RunFailed && readyReasonOf(j) == "Error"
	})
	if got.Status.NextAttempt != nil {
		t.Errorf("next attempt %+v after the budget was spent", got.Status.NextAttempt)
	}
	clk.SetTime(clk.Now().Add(time.Hour))
	poke(t, e, ns, job.Name)
	assertDriversStay(t, e, ns, job.Name, 3)
	if n := countEvents(t, ns, job.Name, reconciler.EventRetrying); n != 2 {
		t.Errorf("%d Retrying events, want 2", n)
	}
	eventually(t, "one RetriesExhausted event", func() (bool, string) {
		n := countEvents(t, ns, job.Name, reconciler.EventRetriesExhausted)
		return n == 1, fmt.Sprint(n)
	})
	if h := getJob(t, e, ns, job.Name).Status.History; len(h) != 3 || h[0].Attempt != 3 || h[1].Attempt != 2 || h[2].Attempt != 0 {
		t.Errorf("history %+v, want attempts 3, 2, 1", h)
	}
}

// TestRestartSuspended: no attempt starts while the job is suspended; the
// pending one starts when it resumes.
func TestRestartSuspended(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	clk := clocktesting.NewFakeClock(time.Now())
	startLoop(t, e, reconciler.JobOptions{Clock: clk}, ns)
	job := restartJob(t, e, ns, "suspended", v1alpha1.RestartPolicy{Type: v1alpha1.RestartOnFailure, OnFailureRetries: ptr.To(int32(1))})
	run := lastRunIn(t, e, ns, job.Name, v1alpha1.RunPending)
	ended := endRun(t, e, clk, ns, run.Name, corev1.PodFailed)
	waitNextAttempt(t, e, ns, job.Name, 2, ended.Add(5*time.Second))
	updateJob(t, e, ns, job.Name, func(j *v1alpha1.SparkJob) { j.Spec.Suspend = ptr.To(true) })
	waitJob(t, e, ns, job.Name, "suspended", func(j *v1alpha1.SparkJob) bool { return readyReason(t, j, meta.SuspendedReason) })
	clk.SetTime(ended.Add(time.Hour))
	poke(t, e, ns, job.Name)
	assertDriversStay(t, e, ns, job.Name, 1)
	updateJob(t, e, ns, job.Name, func(j *v1alpha1.SparkJob) { j.Spec.Suspend = nil })
	waitAttempt(t, e, ns, job.Name, 2, run.Name)
}

// TestRestartWithCleanup: with failedRunHistoryLimit 0 the cleanup deletes
// each failed attempt's driver as soon as status.history records it — the
// garbage collector takes its ConfigMap — and the next attempt still starts
// on time; the active attempt's driver is never deleted.
func TestRestartWithCleanup(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	ctx := t.Context()
	clk := clocktesting.NewFakeClock(time.Now())
	startLoop(t, e, reconciler.JobOptions{Clock: clk}, ns)
	job := piJob(t, ns, "cleaned", func(j *v1alpha1.SparkJob) {
		j.Spec.RestartPolicy = &v1alpha1.RestartPolicy{Type: v1alpha1.RestartOnFailure, OnFailureRetries: ptr.To(int32(2)), OnFailureRetryInterval: ptr.To(int64(10))}
		j.Spec.FailedRunHistoryLimit = ptr.To(int32(0))
	})
	if err := e.Client.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	opts := cleanup.DefaultOptions()
	opts.Namespaces, opts.Clock = []string{ns}, clk
	cl, err := cleanup.New(e.Client, opts)
	if err != nil {
		t.Fatal(err)
	}
	run := lastRunIn(t, e, ns, job.Name, v1alpha1.RunPending)
	for k := 1; k <= 2; k++ {
		ended := endRun(t, e, clk, ns, run.Name, corev1.PodFailed)
		next := waitNextAttempt(t, e, ns, job.Name, int32(k+1), ended.Add(time.Duration(10*k)*time.Second))
		rep, err := cl.RunOnce(ctx)
		if err != nil || len(rep.Deleted) != 1 || rep.Deleted[0].Pod != runid.DriverPodName(run.Name) {
			t.Fatalf("cleanup deleted %+v (%v), want the driver of '%s'", rep.Deleted, err, run.Name)
		}
		eventually(t, "the failed attempt's ConfigMap collected", func() (bool, string) {
			err := e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: runid.ConfigMapName(run.Name)}, &corev1.ConfigMap{})
			return apierrors.IsNotFound(err), fmt.Sprint(err)
		})
		clk.SetTime(next.Time.Time)
		poke(t, e, ns, job.Name)
		run = waitAttempt(t, e, ns, job.Name, int32(k+1), run.Name)
		if rep, err := cl.RunOnce(ctx); err != nil || len(rep.Deleted) != 0 {
			t.Fatalf("cleanup deleted %+v (%v) while attempt %d runs", rep.Deleted, err, k+1)
		}
	}
	if h := getJob(t, e, ns, job.Name).Status.History; len(h) != 2 {
		t.Errorf("history %+v, want the two failed attempts, kept after their drivers", h)
	}
}

// TestRestartAlways: a run that succeeds is followed at once by the next
// attempt; failures in a row back off exponentially (10s, 20s, 40s), and a
// success starts the count again.
func TestRestartAlways(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	clk := clocktesting.NewFakeClock(time.Now())
	startLoop(t, e, reconciler.JobOptions{Clock: clk}, ns)
	job := restartJob(t, e, ns, "always", v1alpha1.RestartPolicy{Type: v1alpha1.RestartAlways, OnFailureRetryInterval: ptr.To(int64(10))})
	run := lastRunIn(t, e, ns, job.Name, v1alpha1.RunPending)
	endRun(t, e, clk, ns, run.Name, corev1.PodSucceeded)
	run = waitAttempt(t, e, ns, job.Name, 2, run.Name)
	attempt := int32(2)
	for _, delay := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second} {
		ended := endRun(t, e, clk, ns, run.Name, corev1.PodFailed)
		waitNextAttempt(t, e, ns, job.Name, attempt+1, ended.Add(delay))
		clk.SetTime(ended.Add(delay))
		poke(t, e, ns, job.Name)
		attempt++
		run = waitAttempt(t, e, ns, job.Name, attempt, run.Name)
	}
	endRun(t, e, clk, ns, run.Name, corev1.PodSucceeded)
	attempt++
	run = waitAttempt(t, e, ns, job.Name, attempt, run.Name)
	ended := endRun(t, e, clk, ns, run.Name, corev1.PodFailed)
	waitNextAttempt(t, e, ns, job.Name, attempt+1, ended.Add(10*time.Second))
	if n := len(drivers(t, e, ns, job.Name)); n != int(attempt) {
		t.Errorf("%d drivers, want %d", n, attempt)
	}
}

// TestRestartScheduledTick: a scheduled job's tick run is retried within
// its own budget, as a run of the same trigger; the next tick's run starts
// a budget of its own.
func TestRestartScheduledTick(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	clk := scheduledLoop(t, e, ns)
	job := createScheduled(t, e, ns, "nightly", func(j *v1alpha1.SparkJob) {
		j.Spec.RestartPolicy = &v1alpha1.RestartPolicy{Type: v1alpha1.RestartOnFailure, OnFailureRetries: ptr.To(int32(1)), OnFailureRetryInterval: ptr.To(int64(60))}
	})
	tk := ticks(t, job, 2)
	clk.SetTime(tk[0].Add(time.Second))
	poke(t, e, ns, job.Name)
	run := *runAt(t, e, job, tk[0]).Status.LastRun
	ended := endRun(t, e, clk, ns, run.Name, corev1.PodFailed)
	waitNextAttempt(t, e, ns, job.Name, 2, ended.Add(time.Minute))
	clk.SetTime(ended.Add(time.Minute))
	poke(t, e, ns, job.Name)
	retry := waitAttempt(t, e, ns, job.Name, 2, run.Name)
	if retry.Trigger != v1alpha1.TriggerSchedule {
		t.Errorf("attempt 2 trigger %q, want schedule", retry.Trigger)
	}
	endRun(t, e, clk, ns, retry.Name, corev1.PodFailed)
	waitJob(t, e, ns, job.Name, "the tick's budget spent", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun.Phase == v1alpha1.RunFailed && j.Status.NextAttempt == nil && readyReasonOf(j) == "Error"
	})
	clk.SetTime(tk[1].Add(time.Second))
	poke(t, e, ns, job.Name)
	run = *runAt(t, e, job, tk[1]).Status.LastRun
	if run.Attempt > 1 {
		t.Errorf("the next tick's run is attempt %d, want 1", run.Attempt)
	}
	ended = endRun(t, e, clk, ns, run.Name, corev1.PodFailed)
	waitNextAttempt(t, e, ns, job.Name, 2, ended.Add(time.Minute))
}

// TestRestartSubmissionFailure: a driver the API server refuses (a
// ResourceQuota of no pods) is tried again under the same run name, the
// n-th refusal waiting n × onSubmissionFailureRetryInterval; past
// onSubmissionFailureRetries the run is recorded as failed, and once the
// refusal is gone a retry creates the driver.
func TestRestartSubmissionFailure(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		retries int32
		lift    bool
	}{
		{name: "budget spent", retries: 2},
		{name: "quota lifted", retries: 1000, lift: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := env.Env(t)
			ns := sparkNamespace(t, e)
			quota := noPods(t, e, ns)
			clk := clocktesting.NewFakeClock(time.Now().Truncate(time.Second))
			startLoop(t, e, reconciler.JobOptions{Clock: clk}, ns)
			job := restartJob(t, e, ns, "refused", v1alpha1.RestartPolicy{
				Type: v1alpha1.RestartOnFailure, OnSubmissionFailureRetries: ptr.To(tt.retries), OnSubmissionFailureRetryInterval: ptr.To(int64(5)),
			})
			first := waitJob(t, e, ns, job.Name, "a refused driver", func(j *v1alpha1.SparkJob) bool {
				return j.Status.NextAttempt != nil && j.Status.NextAttempt.SubmissionFailures == 1
			}).Status.NextAttempt
			if want := clk.Now().Add(5 * time.Second); !first.Time.Time.Equal(want) {
				t.Errorf("next try at %v, want %v", first.Time, want)
			}
			if tt.lift {
				if err := e.Client.Delete(t.Context(), quota); err != nil {
					t.Fatal(err)
				}
				// The quota admission may refuse a little longer, until its
				// cache sees the delete: each look moves the clock past the
				// next try.
				eventually(t, "the driver created once the quota is gone", func() (bool, string) {
					clk.SetTime(clk.Now().Add(time.Minute))
					poke(t, e, ns, job.Name)
					j := getJob(t, e, ns, job.Name)
					return j.Status.LastRun != nil && j.Status.LastRun.Name == first.Run && j.Status.NextAttempt == nil, statusSummary(j)
				})
				return
			}
			clk.SetTime(first.Time.Time.Add(-time.Second))
			poke(t, e, ns, job.Name)
			assertDriversStay(t, e, ns, job.Name, 0)
			if j := getJob(t, e, ns, job.Name); j.Status.NextAttempt.SubmissionFailures != 1 {
				t.Fatalf("tried again before the interval: %s", statusSummary(j))
			}
			clk.SetTime(first.Time.Time)
			poke(t, e, ns, job.Name)
			second := waitNextAttempt(t, e, ns, job.Name, 1, first.Time.Add(10*time.Second))
			if second.SubmissionFailures != 2 || second.Run != first.Run {
				t.Fatalf("second refusal %+v, want the 2nd of run '%s'", second, first.Run)
			}
			clk.SetTime(second.Time.Time)
			poke(t, e, ns, job.Name)
			run := lastRunIn(t, e, ns, job.Name, v1alpha1.RunFailed)
			if run.Name != first.Run || run.Reason != reconciler.ReasonSubmissionFailed {
				t.Errorf("last run %+v, want '%s' Failed/%s", run, first.Run, reconciler.ReasonSubmissionFailed)
			}
		})
	}
}

// TestRestartCrashBetweenAttempts: a sparkcd killed right after it created
// an attempt's driver, or right after the status write that records it,
// is followed by one that completes that attempt and starts none twice.
func TestRestartCrashBetweenAttempts(t *testing.T) {
	t.Parallel()
	for _, p := range []crashPoint{crashPoints[0], crashPoints[len(crashPoints)-1]} {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			e := env.Env(t)
			ns := sparkNamespace(t, e)
			clk := clocktesting.NewFakeClock(time.Now())
			opts := reconciler.JobOptions{Clock: clk}
			first := startLoop(t, e, opts, ns)
			job := restartJob(t, e, ns, "crash", v1alpha1.RestartPolicy{
				Type: v1alpha1.RestartOnFailure, OnFailureRetries: ptr.To(int32(3)), OnFailureRetryInterval: ptr.To(int64(10)),
			})
			run := lastRunIn(t, e, ns, job.Name, v1alpha1.RunPending)
			ended := endRun(t, e, clk, ns, run.Name, corev1.PodFailed)
			next := waitNextAttempt(t, e, ns, job.Name, 2, ended.Add(10*time.Second))
			first.stop()

			clk.SetTime(next.Time.Time)
			crashLoop(t, ns, p, opts)
			startLoop(t, e, opts, ns)
			second := waitAttempt(t, e, ns, job.Name, 2, run.Name)
			if second.Name != next.Run {
				t.Fatalf("attempt 2 is '%s', want '%s'", second.Name, next.Run)
			}
			waitCompleteDriver(t, ns, job.Name, second.Name)
			poke(t, e, ns, job.Name)
			assertDriversStay(t, e, ns, job.Name, 2)
			ended = endRun(t, e, clk, ns, second.Name, corev1.PodFailed)
			waitNextAttempt(t, e, ns, job.Name, 3, ended.Add(20*time.Second))
		})
	}
}

// noPods makes the API server refuse every pod in ns, with a ResourceQuota
// of no pods, and returns it once a pod create is refused. No quota
// controller runs in the test environment: the test writes the quota's
// status, which the quota admission checks against.
func noPods(t *testing.T, e *testenv.Env, ns string) *corev1.ResourceQuota {
	t.Helper()
	none := corev1.ResourceList{corev1.ResourcePods: resource.MustParse("0")}
	quota := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "no-pods", Namespace: ns},
		Spec:       corev1.ResourceQuotaSpec{Hard: none},
	}
	if err := e.Client.Create(t.Context(), quota); err != nil {
		t.Fatal(err)
	}
	quota.Status = corev1.ResourceQuotaStatus{Hard: none, Used: none}
	if err := e.Client.Status().Update(t.Context(), quota); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a pod refused by the quota", func() (bool, string) {
		probe := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-", Namespace: ns},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
		}
		err := e.Client.Create(t.Context(), probe)
		if err == nil {
			_ = e.Client.Delete(t.Context(), probe)
		}
		return apierrors.IsForbidden(err), fmt.Sprint(err)
	})
	return quota
}

// readyReasonOf is the reason of a job's Ready condition.
func readyReasonOf(j *v1alpha1.SparkJob) string {
	for _, c := range j.Status.Conditions {
		if c.Type == meta.ReadyCondition {
			return c.Reason
		}
	}
	return ""
}
