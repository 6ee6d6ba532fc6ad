package kueue_test

import (
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	kueue "sigs.k8s.io/kueue/apis/kueue/v1beta2"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/policies"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/runid"
)

// queuePolicy is an Enforce AllocationPolicy "queues" for ns alone, with
// the given scheduler defaults and rules.
func queuePolicy(t testing.TB, ns string, defaults *v1alpha1.PolicyDefaults, rules *v1alpha1.BatchSchedulerRules) *policies.Set {
	t.Helper()
	set, err := policies.NewSet([]v1alpha1.AllocationPolicy{{
		ObjectMeta: metav1.ObjectMeta{Name: "queues"},
		Spec: v1alpha1.AllocationPolicySpec{Namespaces: []string{ns}, Action: v1alpha1.Enforce,
			Defaults: defaults, Rules: &v1alpha1.PolicyRules{BatchScheduler: rules}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// withoutQueue is the kueue job name in ns that names no queue.
func withoutQueue(t testing.TB, ns, name string) *v1alpha1.SparkJob {
	t.Helper()
	job := piJob(t, ns, name)
	job.Spec.BatchSchedulerOptions = nil
	return job
}

// TestKueuePolicyDefaultQueue: a kueue job that names no queue takes the
// namespace's default from an AllocationPolicy, and its run is queued
// under it: the Workload's queue is the default LocalQueue, Kueue admits
// it, the driver runs, and the run records the queue.
func TestKueuePolicyDefaultQueue(t *testing.T) {
	e := env.Env(t)
	ns := kueueNamespace(t, e, "6")
	defaults := &v1alpha1.PolicyDefaults{BatchSchedulerOptions: &v1alpha1.BatchSchedulerConfiguration{Queue: ptr.To("team")}}
	startLoopWith(t, e, ns, reconciler.JobOptions{Policies: queuePolicy(t, ns, defaults, &v1alpha1.BatchSchedulerRules{RequireQueue: true})})
	create(t, e, withoutQueue(t, ns, "pi"))

	driver := waitDriverRunning(t, e, ns, "pi")
	if got := driver.Annotations[v1alpha1.AnnotationQueue]; got != "team" {
		t.Errorf("driver's queue annotation = %q, want the policy's default 'team'", got)
	}
	wl := &kueue.Workload{}
	if err := e.Client.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: runid.NameOf(driver)}, wl); err != nil {
		t.Fatalf("get the run's Workload: %v", err)
	}
	if wl.Spec.QueueName != "team" {
		t.Errorf("Workload's queueName = %q, want the policy's default 'team'", wl.Spec.QueueName)
	}
	if !apimeta.IsStatusConditionTrue(wl.Status.Conditions, kueue.WorkloadAdmitted) {
		t.Errorf("the Workload of a running driver is not Admitted: %v", wl.Status.Conditions)
	}
	job := waitJob(t, e, ns, "pi", "the run running, its queue recorded", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun != nil && j.Status.LastRun.Phase == v1alpha1.RunRunning && j.Status.LastRun.QueuedSeconds != nil
	})
	if job.Status.LastRun.Queue != "team" {
		t.Errorf("the run's queue = %q, want 'team'", job.Status.LastRun.Queue)
	}
	if job.Spec.BatchSchedulerOptions != nil {
		t.Errorf("the policy's default was written into the SparkJob's spec: %+v", job.Spec.BatchSchedulerOptions)
	}
}

// TestKueuePolicyRequiresQueue: an AllocationPolicy that requires a queue
// and gives no default refuses a kueue job that names none — Ready=False,
// Stalled, naming the field, the policy and the rule, no driver — while
// another kueue job of the namespace that names its queue runs.
func TestKueuePolicyRequiresQueue(t *testing.T) {
	e := env.Env(t)
	ns := kueueNamespace(t, e, "6")
	startLoopWith(t, e, ns, reconciler.JobOptions{Policies: queuePolicy(t, ns, nil, &v1alpha1.BatchSchedulerRules{RequireQueue: true})})
	create(t, e, withoutQueue(t, ns, "pi-anon"), piJob(t, ns, "pi-team"))

	job := waitJob(t, e, ns, "pi-anon", "the job without a queue Stalled", func(j *v1alpha1.SparkJob) bool {
		return apimeta.IsStatusConditionTrue(j.Status.Conditions, meta.StalledCondition)
	})
	ready := apimeta.FindStatusCondition(job.Status.Conditions, meta.ReadyCondition)
	if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != reconciler.ReasonPolicyViolation {
		t.Fatalf("Ready = %+v, want False %s", ready, reconciler.ReasonPolicyViolation)
	}
	for _, want := range []string{"spec.batchSchedulerOptions.queue", "policy 'queues'", "rule '" + policies.RuleQueue + "'"} {
		if !strings.Contains(ready.Message, want) {
			t.Errorf("Ready's message %q does not name %s", ready.Message, want)
		}
	}
	waitDriverRunning(t, e, ns, "pi-team")
	if d := driverOf(t, e, ns, "pi-anon"); d != nil {
		t.Errorf("the refused job has a driver: %s", d.Name)
	}
	assertNoWorkload(t, e, ns, "pi-anon")
}

// assertNoWorkload fails when a Workload of job exists.
func assertNoWorkload(t *testing.T, e *testenv.Env, ns, job string) {
	t.Helper()
	wls := &kueue.WorkloadList{}
	if err := e.Client.List(t.Context(), wls, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelJob: job}); err != nil {
		t.Fatal(err)
	}
	if len(wls.Items) > 0 {
		t.Errorf("the refused job '%s' has a Workload '%s'", job, wls.Items[0].Name)
	}
}
