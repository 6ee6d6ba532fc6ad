package reconciler_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/runid"
)

// readyReason waits for the job's Ready condition to have reason.
func readyReason(t testing.TB, j *v1alpha1.SparkJob, reason string) bool {
	t.Helper()
	c := apimeta.FindStatusCondition(j.Status.Conditions, meta.ReadyCondition)
	return c != nil && c.Reason == reason && c.ObservedGeneration == j.Generation
}

// TestInvalidSpecStalls: a job that fails validation is Stalled, starts
// nothing and is not retried; fixing it starts its run.
func TestInvalidSpecStalls(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	l := startLoop(t, e, reconciler.JobOptions{}, ns)
	job := piJob(t, ns, "invalid", func(j *v1alpha1.SparkJob) { j.Spec.MainApplicationFile = nil })
	if err := e.Client.Create(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	got := waitJob(t, e, ns, job.Name, "Stalled", func(j *v1alpha1.SparkJob) bool {
		return readyReason(t, j, reconciler.ReasonValidationFailed)
	})
	assertConditions(t, got, metav1.ConditionFalse, reconciler.ReasonValidationFailed, false, true)
	if c := apimeta.FindStatusCondition(got.Status.Conditions, meta.StalledCondition); !strings.Contains(c.Message, "mainApplicationFile") {
		t.Errorf("Stalled message %q does not name the field", c.Message)
	}
	if got.Status.ObservedGeneration != got.Generation {
		t.Errorf("observedGeneration %d, want %d: a stalled verdict is about this generation", got.Status.ObservedGeneration, got.Generation)
	}
	writes := l.writes.Load()
	assertDriversStay(t, e, ns, job.Name, 0)
	if n := l.writes.Load() - writes; n != 0 {
		t.Errorf("%d writes while stalled, want 0: a terminal error is not retried", n)
	}
	updateJob(t, e, ns, job.Name, func(j *v1alpha1.SparkJob) {
		j.Spec.MainApplicationFile = ptr.To("local:///opt/spark/examples/jars/spark-examples_2.12-3.5.3.jar")
	})
	fixed := waitJob(t, e, ns, job.Name, "a run after the fix", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun != nil
	})
	assertConditions(t, fixed, metav1.ConditionUnknown, meta.ProgressingReason, true, false)
}

// rejecting is admission.Policies that rejects jobs labelled reject=true and
// fills in the driver's cores elsewhere, as an AllocationPolicy would.
type rejecting struct{}

func (rejecting) Apply(job *v1alpha1.SparkJob) (*v1alpha1.SparkJob, []v1alpha1.Finding) {
	if job.Labels["reject"] == "true" {
		return job, []v1alpha1.Finding{{
			Severity: v1alpha1.SeverityError, Rule: "max-executors", Field: "spec.executor.instances",
			Message: "2 executors, the limit is 1", Policy: "small",
		}}
	}
	out := job.DeepCopy()
	if out.Spec.Driver.Cores == nil || *out.Spec.Driver.Cores == 1 {
		out.Spec.Driver.Cores = ptr.To[int32](2)
	}
	return out, nil
}

// TestAdmitter: the policies decide before the spec hash is computed: a
// rejected job is Stalled with the policy's finding, an admitted one runs
// with the policy's defaults.
func TestAdmitter(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	startLoop(t, e, reconciler.JobOptions{Policies: rejecting{}}, ns)
	ctx := context.Background()

	rejected := piJob(t, ns, "rejected", func(j *v1alpha1.SparkJob) { j.Labels = map[string]string{"reject": "true"} })
	if err := e.Client.Create(ctx, rejected); err != nil {
		t.Fatal(err)
	}
	got := waitJob(t, e, ns, rejected.Name, "PolicyViolation", func(j *v1alpha1.SparkJob) bool {
		return readyReason(t, j, reconciler.ReasonPolicyViolation)
	})
	if c := apimeta.FindStatusCondition(got.Status.Conditions, meta.StalledCondition); c == nil || !strings.Contains(c.Message, "policy 'small'") {
		t.Errorf("Stalled = %+v, want the policy named", c)
	}

	admitted := piJob(t, ns, "admitted")
	if err := e.Client.Create(ctx, admitted); err != nil {
		t.Fatal(err)
	}
	run := lastRunIn(t, e, ns, admitted.Name, v1alpha1.RunPending)
	job := getJob(t, e, ns, admitted.Name)
	withPolicy, _ := rejecting{}.Apply(job)
	if want := runid.SpecHash(withPolicy); run.SpecHash != want || job.Status.SpecHash != want {
		t.Errorf("spec hash %s (status %s), want the hash with the policy applied %s", run.SpecHash, job.Status.SpecHash, want)
	}
	pod := drivers(t, e, ns, admitted.Name)[0]
	if cpu := pod.Spec.Containers[0].Resources.Requests.Cpu().String(); cpu != "2" {
		t.Errorf("driver cpu request %s, want the policy's 2", cpu)
	}
}

// TestDriverAccess: a missing driver service account, then a service
// account without RBAC, are conditions that say so; the run starts once
// both are fixed.
func TestDriverAccess(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := e.Namespace(t)
	clock := clocktesting.NewFakeClock(time.Now())
	startLoop(t, e, reconciler.JobOptions{Clock: clock}, ns)
	ctx := context.Background()
	job := piJob(t, ns, "access")
	if err := e.Client.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	got := waitJob(t, e, ns, job.Name, "ServiceAccountNotFound", func(j *v1alpha1.SparkJob) bool {
		return readyReason(t, j, reconciler.ReasonServiceAccountNotFound)
	})
	assertConditions(t, got, metav1.ConditionFalse, reconciler.ReasonServiceAccountNotFound, true, false)

	// The service account wakes the job up; without a RoleBinding the
	// driver could not start executors.
	if err := e.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "spark", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	got = waitJob(t, e, ns, job.Name, "DriverForbidden", func(j *v1alpha1.SparkJob) bool {
		return readyReason(t, j, reconciler.ReasonDriverForbidden)
	})
	if c := apimeta.FindStatusCondition(got.Status.Conditions, meta.ReadyCondition); !strings.Contains(c.Message, "may not create pods") {
		t.Errorf("Ready message %q does not say what is missing", c.Message)
	}
	assertDriversStay(t, e, ns, job.Name, 0)

	driverAccess(t, e, ns, "spark")
	clock.Step(time.Minute)
	updateJob(t, e, ns, job.Name, func(j *v1alpha1.SparkJob) { j.Annotations = map[string]string{"touch": "1"} })
	lastRunIn(t, e, ns, job.Name, v1alpha1.RunPending)
}
