package kueue_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	kueue "sigs.k8s.io/kueue/apis/kueue/v1beta2"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/runid"
)

// Each run reserves its driver and its peak of 2 executors: 3 cpu. The
// ClusterQueue's 6 cpu fit two runs; the node's 16 cpu would fit all
// three, so only Kueue holds the third back.
const quotaCPU = 6000

// TestKueueQueuesRunsWithinQuota starts three dynamic-allocation runs
// behind a ClusterQueue that fits two: two are admitted and grow to
// their peak executor count, the third waits Queued (Ready=Unknown,
// Reconciling, the queue named) until one of the two ends, then starts;
// at no moment do the pods on nodes hold more cpu than the quota.
func TestKueueQueuesRunsWithinQuota(t *testing.T) {
	e := env.Env(t)
	ns := kueueNamespace(t, e, "6")
	used := sampleUsage(t, e, ns)
	startLoop(t, e, ns)
	jobs := []string{"pi-a", "pi-b", "pi-c"}
	for _, name := range jobs {
		create(t, e, piJob(t, ns, name))
	}

	admitted, queued := waitTwoAdmitted(t, e, ns, jobs)
	job := getJob(t, e, ns, queued)
	ready := apimeta.FindStatusCondition(job.Status.Conditions, meta.ReadyCondition)
	if ready.Status != "Unknown" || ready.Reason != runid.ReasonQueued || !strings.Contains(ready.Message, "'team'") {
		t.Errorf("queued job's Ready = %s %s %q, want Unknown Queued naming 'team'", ready.Status, ready.Reason, ready.Message)
	}
	if !apimeta.IsStatusConditionTrue(job.Status.Conditions, meta.ReconcilingCondition) {
		t.Errorf("queued job is not Reconciling: %v", job.Status.Conditions)
	}
	wl := &kueue.Workload{}
	if err := e.Client.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: runid.NameOf(driverOf(t, e, ns, queued))}, wl); err != nil {
		t.Fatalf("get the queued run's Workload: %v", err)
	}
	if apimeta.IsStatusConditionTrue(wl.Status.Conditions, kueue.WorkloadQuotaReserved) {
		t.Errorf("the third run's Workload holds quota beside two runs at their peak")
	}

	// Spark grows each admitted run to its peak: 2 executors.
	for _, name := range admitted {
		driver := waitDriverRunning(t, e, ns, name)
		startExecutors(t, e, driver, 2)
	}
	eventually(t, "both admitted runs at their peak, all pods on the node", func() (bool, string) {
		return boundCPU(t, e, ns) == quotaCPU, fmt.Sprintf("%dm cpu bound", boundCPU(t, e, ns))
	})
	if d := driverOf(t, e, ns, queued); !runid.QueueGated(d) || d.Spec.NodeName != "" {
		t.Fatalf("the queued driver left its gate or was bound while the quota is full: gates %v node %q", d.Spec.SchedulingGates, d.Spec.NodeName)
	}

	// One run ends: its quota goes to the third.
	succeed(t, e, driverOf(t, e, ns, admitted[0]))
	waitDriverRunning(t, e, ns, queued)
	job = waitJob(t, e, ns, queued, "the third run running, its queueing time recorded", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun != nil && j.Status.LastRun.Phase == v1alpha1.RunRunning && j.Status.LastRun.QueuedSeconds != nil
	})
	if job.Status.LastRun.Queue != "team" {
		t.Errorf("the run's queue = %q, want team", job.Status.LastRun.Queue)
	}
	waitJob(t, e, ns, admitted[0], "the first run succeeded", func(j *v1alpha1.SparkJob) bool {
		return apimeta.IsStatusConditionTrue(j.Status.Conditions, meta.ReadyCondition)
	})
	startExecutors(t, e, driverOf(t, e, ns, queued), 2)
	eventually(t, "the third run at its peak", func() (bool, string) {
		return boundCPU(t, e, ns) == quotaCPU, fmt.Sprintf("%dm cpu bound", boundCPU(t, e, ns))
	})

	used.stop()
	t.Logf("peak cpu bound over %d samples: %dm (quota %dm)", used.samples, used.peak, quotaCPU)
	if used.peak > quotaCPU {
		t.Errorf("pods held %dm cpu at a moment, more than the ClusterQueue's %dm", used.peak, quotaCPU)
	}
}

// waitTwoAdmitted waits until two of the three jobs' drivers have left
// their queue gate and the third job reports Queued; it returns the two
// and the third.
func waitTwoAdmitted(t *testing.T, e *testenv.Env, ns string, jobs []string) ([]string, string) {
	t.Helper()
	var admitted []string
	var queued string
	eventually(t, "two runs admitted, the third Queued", func() (bool, string) {
		admitted, queued = nil, ""
		var desc []string
		for _, name := range jobs {
			d := driverOf(t, e, ns, name)
			switch {
			case d == nil:
				desc = append(desc, name+": no driver")
			case runid.QueueGated(d):
				queued = name
				desc = append(desc, name+": gated")
			default:
				admitted = append(admitted, name)
				desc = append(desc, name+": admitted")
			}
		}
		if len(admitted) != 2 || queued == "" {
			return false, strings.Join(desc, ", ")
		}
		ready := apimeta.FindStatusCondition(getJob(t, e, ns, queued).Status.Conditions, meta.ReadyCondition)
		return ready != nil && ready.Reason == runid.ReasonQueued, strings.Join(desc, ", ")
	})
	return admitted, queued
}

// waitDriverRunning waits until KWOK runs the job's driver, and returns it.
func waitDriverRunning(t *testing.T, e *testenv.Env, ns, job string) *corev1.Pod {
	t.Helper()
	var d *corev1.Pod
	eventually(t, "the driver of "+job+" running", func() (bool, string) {
		d = driverOf(t, e, ns, job)
		if d == nil {
			return false, "no driver"
		}
		return d.Status.Phase == corev1.PodRunning, fmt.Sprintf("phase %q node %q gates %v", d.Status.Phase, d.Spec.NodeName, d.Spec.SchedulingGates)
	})
	return d
}

// waitJob waits until the job satisfies cond and returns it.
func waitJob(t *testing.T, e *testenv.Env, ns, name, what string, cond func(*v1alpha1.SparkJob) bool) *v1alpha1.SparkJob {
	t.Helper()
	var job *v1alpha1.SparkJob
	eventually(t, what, func() (bool, string) {
		job = getJob(t, e, ns, name)
		return cond(job), fmt.Sprintf("conditions %v last run %+v", job.Status.Conditions, job.Status.LastRun)
	})
	return job
}

// boundCPU is the cpu (milli) the namespace's pods bound to a node and not
// ended ask for.
func boundCPU(t *testing.T, e *testenv.Env, ns string) int64 {
	t.Helper()
	pods := &corev1.PodList{}
	if err := e.Client.List(context.Background(), pods, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	return boundMilliCPU(pods.Items)
}

// boundMilliCPU is the cpu (milli) that the pods bound to a node and not
// ended ask for.
func boundMilliCPU(pods []corev1.Pod) int64 {
	var milli int64
	for _, p := range pods {
		if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		for _, c := range p.Spec.Containers {
			milli += c.Resources.Requests.Cpu().MilliValue()
		}
	}
	return milli
}
