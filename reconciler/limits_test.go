package reconciler_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/policies"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/runid"
)

// limitPolicy is a policy of action with rules, selecting every namespace.
func limitPolicy(t testing.TB, action v1alpha1.PolicyAction, rules v1alpha1.PolicyRules) *policies.Set {
	t.Helper()
	set, err := policies.NewSet([]v1alpha1.AllocationPolicy{{
		ObjectMeta: metav1.ObjectMeta{Name: "limits"},
		Spec:       v1alpha1.AllocationPolicySpec{Action: action, Rules: &rules},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// limitCondition waits for the RunLimitExceeded condition with reason.
func limitCondition(t testing.TB, ns, name, reason string) *v1alpha1.SparkJob {
	t.Helper()
	return waitJob(t, env.Env(t), ns, name, "RunLimitExceeded "+reason, func(j *v1alpha1.SparkJob) bool {
		c := apimeta.FindStatusCondition(j.Status.Conditions, reconciler.ConditionRunLimitExceeded)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == reason
	})
}

// TestRunLimitEnforced: a run that outlives an Enforce policy's
// maxRunDuration is stopped when the limit passes — the loop looks again
// at the limit's time, nothing else wakes it — its driver deleted, and it
// is recorded Failed with reason LimitExceeded.
func TestRunLimitEnforced(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	startLoop(t, e, reconciler.JobOptions{Policies: limitPolicy(t, v1alpha1.Enforce, v1alpha1.PolicyRules{
		MaxRunDuration: &metav1.Duration{Duration: 3 * time.Second},
	})}, ns)
	ctx := context.Background()
	// OnFailure does not retry a run a limit stopped.
	job := piJob(t, ns, "long", func(j *v1alpha1.SparkJob) {
		j.Spec.RestartPolicy = &v1alpha1.RestartPolicy{Type: v1alpha1.RestartOnFailure, OnFailureRetries: ptr.To[int32](3)}
	})
	if err := e.Client.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	run := lastRunIn(t, e, ns, "long", v1alpha1.RunPending)
	setPodStatus(t, e, ns, runid.DriverPodName(run.Name), running)
	job = limitCondition(t, ns, "long", reconciler.ReasonMaxRunDuration)
	last := job.Status.LastRun
	if last.Phase != v1alpha1.RunFailed || last.Reason != reconciler.ReasonLimitExceeded || !strings.Contains(last.Message, policies.RuleMaxRunDuration) {
		t.Errorf("last run = %+v, want Failed %s naming %s", last, reconciler.ReasonLimitExceeded, policies.RuleMaxRunDuration)
	}
	if d := last.CompletionTime.Sub(last.StartTime.Time); d < 3*time.Second {
		t.Errorf("the run was stopped %s after its start, before its 3s limit", d)
	}
	if last.Insight == nil || last.Insight.DurationSeconds < 3 {
		t.Errorf("insight of the stopped run = %+v, want a duration of 3s or more", last.Insight)
	}
	eventually(t, "the driver pod to be deleted", func() (bool, string) {
		pod := &corev1.Pod{}
		err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: runid.DriverPodName(run.Name)}, pod)
		return apierrors.IsNotFound(err) || pod.DeletionTimestamp != nil, "driver still there"
	})
	waitEvent(t, e, ns, "long", reconciler.EventRunLimitExceeded)
	if job = getJob(t, e, ns, "long"); job.Status.NextAttempt != nil || job.Status.LastRun.Name != run.Name {
		t.Errorf("after the stop: next attempt %+v, last run %s; want no retry of %s", job.Status.NextAttempt, job.Status.LastRun.Name, run.Name)
	}
}

// TestRunLimitAudited: a run that reserves more than an Audit policy's
// maxRunCoreHours is reported — condition and event — and keeps running.
func TestRunLimitAudited(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	// 0.0005 core-hours are 1.8 core-seconds: the 1-core driver and one
	// 1-core executor reserve them in under a second.
	startLoop(t, e, reconciler.JobOptions{Policies: limitPolicy(t, v1alpha1.Audit, v1alpha1.PolicyRules{
		MaxRunCoreHours: ptr.To(resource.MustParse("0.0005")),
	})}, ns)
	ctx := context.Background()
	if err := e.Client.Create(ctx, piJob(t, ns, "costly")); err != nil {
		t.Fatal(err)
	}
	run := lastRunIn(t, e, ns, "costly", v1alpha1.RunPending)
	setPodStatus(t, e, ns, runid.DriverPodName(run.Name), running)
	driver := &corev1.Pod{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: runid.DriverPodName(run.Name)}, driver); err != nil {
		t.Fatal(err)
	}
	createExecutor(t, e, driver, "costly", run, 1)
	job := limitCondition(t, ns, "costly", reconciler.ReasonMaxRunCoreHours)
	if last := job.Status.LastRun; last.Phase != v1alpha1.RunRunning {
		t.Errorf("last run = %+v, want it still Running under an Audit policy", last)
	}
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(driver), driver); err != nil || driver.DeletionTimestamp != nil {
		t.Errorf("driver after an audited limit: %v, deletionTimestamp %v; want it untouched", err, driver.DeletionTimestamp)
	}
	waitEvent(t, e, ns, "costly", reconciler.EventRunLimitExceeded)
}

// TestExecutorDrift: a run with more live executors than the policy's
// maxExecutors — more than it was admitted with — is flagged, and keeps
// running.
func TestExecutorDrift(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	startLoop(t, e, reconciler.JobOptions{Policies: limitPolicy(t, v1alpha1.Enforce, v1alpha1.PolicyRules{
		MaxExecutors: ptr.To[int32](2),
	})}, ns)
	ctx := context.Background()
	if err := e.Client.Create(ctx, piJob(t, ns, "drift")); err != nil {
		t.Fatal(err)
	}
	run := lastRunIn(t, e, ns, "drift", v1alpha1.RunPending)
	setPodStatus(t, e, ns, runid.DriverPodName(run.Name), running)
	driver := &corev1.Pod{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: runid.DriverPodName(run.Name)}, driver); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		createExecutor(t, e, driver, "drift", run, i)
	}
	job := waitJob(t, e, ns, "drift", "2 executors", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun != nil && j.Status.LastRun.Executors == 2
	})
	if c := apimeta.FindStatusCondition(job.Status.Conditions, reconciler.ConditionRunLimitExceeded); c != nil {
		t.Errorf("RunLimitExceeded = %+v with 2 executors of 2 allowed", c)
	}
	createExecutor(t, e, driver, "drift", run, 3)
	job = limitCondition(t, ns, "drift", reconciler.ReasonExecutorDrift)
	c := apimeta.FindStatusCondition(job.Status.Conditions, reconciler.ConditionRunLimitExceeded)
	if !strings.Contains(c.Message, "had 3 executors") || job.Status.LastRun.Phase != v1alpha1.RunRunning {
		t.Errorf("condition %+v, last run %+v; want 3 executors named and the run still Running", c, job.Status.LastRun)
	}
	waitEvent(t, e, ns, "drift", reconciler.EventRunLimitExceeded)
}

// TestRunLimitsFakeClock: the limits are judged at the loop's clock — a
// fake one here, moved two hours on while a run is pending: an Enforce
// policy's maxRunCoreHours stops the run once its driver reports running,
// and an Audit policy's maxRunDuration only reports it.
func TestRunLimitsFakeClock(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		action v1alpha1.PolicyAction
		rules  v1alpha1.PolicyRules
		reason string
		phase  v1alpha1.RunPhase
	}{
		{"enforced core-hours", v1alpha1.Enforce, v1alpha1.PolicyRules{MaxRunCoreHours: ptr.To(resource.MustParse("1"))}, reconciler.ReasonMaxRunCoreHours, v1alpha1.RunFailed},
		{"audited duration", v1alpha1.Audit, v1alpha1.PolicyRules{MaxRunDuration: &metav1.Duration{Duration: time.Hour}}, reconciler.ReasonMaxRunDuration, v1alpha1.RunRunning},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := env.Env(t)
			ns := sparkNamespace(t, e)
			clk := clocktesting.NewFakeClock(time.Now())
			startLoop(t, e, reconciler.JobOptions{Clock: clk, Policies: limitPolicy(t, tt.action, tt.rules)}, ns)
			if err := e.Client.Create(context.Background(), piJob(t, ns, "slow")); err != nil {
				t.Fatal(err)
			}
			run := lastRunIn(t, e, ns, "slow", v1alpha1.RunPending)
			job := getJob(t, e, ns, "slow")
			if c := apimeta.FindStatusCondition(job.Status.Conditions, reconciler.ConditionRunLimitExceeded); c != nil {
				t.Fatalf("RunLimitExceeded = %+v before the limit", c)
			}
			// The 1-core driver reserves 2 core-hours in 2 hours.
			clk.Step(2 * time.Hour)
			setPodStatus(t, e, ns, runid.DriverPodName(run.Name), running)
			job = limitCondition(t, ns, "slow", tt.reason)
			if last := job.Status.LastRun; last.Phase != tt.phase {
				t.Errorf("last run = %+v, want %s", last, tt.phase)
			}
		})
	}
}
