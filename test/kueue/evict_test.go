package kueue_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	kueue "sigs.k8s.io/kueue/apis/kueue/v1beta2"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/runid"
)

// TestKueuePreemptionStopsRun: a ClusterQueue whose quota fits one run
// and that preempts lower priorities within itself. A low-priority run
// (a WorkloadPriorityClass) is admitted and runs at its peak; a
// high-priority job (a PriorityClass) queues; Kueue evicts the low run's
// Workload and sparkcd stops the run — its driver and executors gone, the
// run Failed with reason Evicted naming the Workload, the queue and
// Kueue's reason, a RunFailed event — and the high run is admitted and
// runs. The low job's restartPolicy queues a new attempt, which waits.
// At no moment do two Workloads hold quota, nor the queued jobs' live
// pods more cpu than it; a job of the namespace outside Kueue runs on.
func TestKueuePreemptionStopsRun(t *testing.T) {
	e := env.Env(t)
	ns := kueueNamespace(t, e, "3")
	preemptLowerPriority(t, e, ns)
	low, high := "low-"+ns, "high-"+ns
	priorityClasses(t, e, low, high)
	used := sampleQuota(t, e, ns, "low", "high")
	startLoop(t, e, ns)

	other := piJob(t, ns, "other")
	other.Spec.BatchScheduler, other.Spec.BatchSchedulerOptions = nil, nil
	lowJob := piJob(t, ns, "low")
	lowJob.Spec.BatchSchedulerOptions.PriorityClassName = ptr.To(low)
	lowJob.Spec.RestartPolicy = &v1alpha1.RestartPolicy{Type: v1alpha1.RestartOnFailure, OnFailureRetries: ptr.To(int32(1)), OnFailureRetryInterval: ptr.To(int64(1))}
	create(t, e, other, lowJob)
	otherDriver := waitDriverRunning(t, e, ns, "other")
	lowDriver := waitDriverRunning(t, e, ns, "low")
	lowRun := runid.NameOf(lowDriver)
	startExecutors(t, e, lowDriver, 2)
	checkPriority(t, e, ns, lowRun, kueue.NewWorkloadPriorityClassRef(low), 10)

	highJob := piJob(t, ns, "high")
	highJob.Spec.BatchSchedulerOptions.PriorityClassName = ptr.To(high)
	create(t, e, highJob)

	job := waitJob(t, e, ns, "low", "the low run Failed, Evicted", func(j *v1alpha1.SparkJob) bool {
		r := runOf(j, lowRun)
		return r != nil && r.Phase == v1alpha1.RunFailed
	})
	r := runOf(job, lowRun)
	for _, want := range []string{"Workload '" + lowRun + "'", "LocalQueue 'team'", "ClusterQueue 'spark-" + ns + "'", "Preempted"} {
		if r.Reason != runid.ReasonEvicted || !strings.Contains(r.Message, want) {
			t.Errorf("the evicted run ended %s %q, want reason Evicted naming %s", r.Reason, r.Message, want)
		}
	}
	eventually(t, "the evicted run's driver and executors gone", func() (bool, string) {
		pods := &corev1.PodList{}
		if err := e.Client.List(t.Context(), pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelSparkAppSelector: lowDriver.Labels[v1alpha1.LabelSparkAppSelector]}); err != nil {
			return false, err.Error()
		}
		return len(pods.Items) == 0, fmt.Sprintf("%d pods left", len(pods.Items))
	})
	waitRunFailedEvent(t, e, ns, "low", runid.ReasonEvicted)

	highDriver := waitDriverRunning(t, e, ns, "high")
	checkPriority(t, e, ns, runid.NameOf(highDriver), kueue.NewPodPriorityClassRef(high), 1000)
	startExecutors(t, e, highDriver, 2)

	// OnFailure: the low job's second attempt queues behind the high run.
	waitJob(t, e, ns, "low", "the low job's second attempt Queued", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun != nil && j.Status.LastRun.Name != lowRun && j.Status.LastRun.Reason == runid.ReasonQueued
	})
	if d := driverOf(t, e, ns, "low"); d == nil || !runid.QueueGated(d) || d.Spec.NodeName != "" {
		t.Errorf("the low job's second attempt left its queue while the high run holds the quota: %+v", d)
	}

	if d := driverOf(t, e, ns, "other"); d == nil || d.UID != otherDriver.UID || d.Status.Phase != corev1.PodRunning || !d.DeletionTimestamp.IsZero() {
		t.Errorf("the job outside Kueue was disturbed: driver %+v", d)
	}
	if j := getJob(t, e, ns, "other"); j.Status.LastRun == nil || j.Status.LastRun.Phase != v1alpha1.RunRunning {
		t.Errorf("the job outside Kueue's run = %+v, want Running", j.Status.LastRun)
	}
	used.check(t)
}

// preemptLowerPriority lets the namespace's ClusterQueue preempt a
// lower-priority Workload for a higher one.
func preemptLowerPriority(t testing.TB, e *testenv.Env, ns string) {
	t.Helper()
	cq := &kueue.ClusterQueue{}
	if err := e.Client.Get(context.Background(), types.NamespacedName{Name: "spark-" + ns}, cq); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(cq.DeepCopy())
	cq.Spec.Preemption = &kueue.ClusterQueuePreemption{WithinClusterQueue: kueue.PreemptionPolicyLowerPriority}
	if err := e.Client.Patch(context.Background(), cq, patch); err != nil {
		t.Fatalf("let ClusterQueue '%s' preempt: %v", cq.Name, err)
	}
}

// priorityClasses makes the WorkloadPriorityClass low (10) and the
// PriorityClass high (1000).
func priorityClasses(t testing.TB, e *testenv.Env, low, high string) {
	t.Helper()
	wpc := &kueue.WorkloadPriorityClass{ObjectMeta: metav1.ObjectMeta{Name: low}, Value: 10}
	pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: high}, Value: 1000}
	create(t, e, wpc, pc)
	t.Cleanup(func() {
		_ = e.Client.Delete(context.Background(), wpc)
		_ = e.Client.Delete(context.Background(), pc)
	})
}

// checkPriority checks the priority a run's Workload was made with.
func checkPriority(t testing.TB, e *testenv.Env, ns, run string, ref *kueue.PriorityClassRef, value int32) {
	t.Helper()
	wl := &kueue.Workload{}
	if err := e.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: run}, wl); err != nil {
		t.Fatalf("get the Workload of run '%s': %v", run, err)
	}
	if got := wl.Spec.PriorityClassRef; got == nil || *got != *ref || ptr.Deref(wl.Spec.Priority, -1) != value {
		t.Errorf("Workload '%s' priority = %+v %v, want %+v %d", run, got, ptr.Deref(wl.Spec.Priority, -1), ref, value)
	}
}

// runOf finds a run in the job's status.
func runOf(job *v1alpha1.SparkJob, name string) *v1alpha1.RunStatus {
	if job.Status.LastRun != nil && job.Status.LastRun.Name == name {
		return job.Status.LastRun
	}
	for i := range job.Status.History {
		if job.Status.History[i].Name == name {
			return &job.Status.History[i]
		}
	}
	return nil
}

// waitRunFailedEvent waits for a RunFailed event about the job whose note
// names reason.
func waitRunFailedEvent(t testing.TB, e *testenv.Env, ns, job, reason string) {
	t.Helper()
	eventually(t, "a RunFailed event naming "+reason, func() (bool, string) {
		events := &eventsv1.EventList{}
		if err := e.Client.List(context.Background(), events, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, ev := range events.Items {
			if ev.Regarding.Name == job && ev.Reason == reconciler.EventRunFailed {
				if ev.Type == corev1.EventTypeWarning && strings.Contains(ev.Note, reason) {
					return true, ""
				}
				seen = append(seen, ev.Note)
			}
		}
		return false, fmt.Sprintf("RunFailed events: %q", seen)
	})
}

// quotaUse samples, until checked, how many of the namespace's Workloads
// hold quota (reserved and not being deleted) and the cpu the given jobs'
// live pods — bound, not ended, not terminating — ask for.
type quotaUse struct {
	mu                sync.Mutex
	workloads, cpu    int
	peakTerminatingOn int64
	samples           int
	stop              func()
}

func sampleQuota(t testing.TB, e *testenv.Env, ns string, jobs ...string) *quotaUse {
	u := &quotaUse{}
	// Its own client, not limited to a few requests a second, so that the
	// samples are dense.
	cfg := rest.CopyConfig(e.Config)
	cfg.QPS, cfg.Burst = 1000, 2000
	c, err := client.New(cfg, client.Options{Scheme: e.Client.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	u.stop = sampleUntilStopped(t, func(ctx context.Context) {
		wls := &kueue.WorkloadList{}
		pods := &corev1.PodList{}
		if c.List(ctx, wls, client.InNamespace(ns)) != nil || c.List(ctx, pods, client.InNamespace(ns)) != nil {
			return
		}
		held := 0
		for _, wl := range wls.Items {
			if wl.DeletionTimestamp.IsZero() && apimeta.IsStatusConditionTrue(wl.Status.Conditions, kueue.WorkloadQuotaReserved) {
				held++
			}
		}
		var live, all int64
		for _, p := range pods.Items {
			if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || !slices.Contains(jobs, p.Labels[v1alpha1.LabelJob]) {
				continue
			}
			for _, c := range p.Spec.Containers {
				all += c.Resources.Requests.Cpu().MilliValue()
				if p.DeletionTimestamp.IsZero() {
					live += c.Resources.Requests.Cpu().MilliValue()
				}
			}
		}
		u.mu.Lock()
		u.workloads, u.cpu = max(u.workloads, held), max(u.cpu, int(live))
		u.peakTerminatingOn, u.samples = max(u.peakTerminatingOn, all), u.samples+1
		u.mu.Unlock()
	})
	return u
}

// check stops sampling and fails the test if more than one Workload held
// quota or the live pods more than one run's 3 cpu at a moment.
func (u *quotaUse) check(t testing.TB) {
	t.Helper()
	u.stop()
	t.Logf("%d samples: at most %d Workloads held quota; live pods at most %dm cpu (%dm with terminating pods)", u.samples, u.workloads, u.cpu, u.peakTerminatingOn)
	if u.workloads > 1 {
		t.Errorf("%d Workloads held quota at a moment; the ClusterQueue fits one", u.workloads)
	}
	if u.cpu > 3000 {
		t.Errorf("the queued jobs' live pods held %dm cpu at a moment, more than the ClusterQueue's 3000m", u.cpu)
	}
}
