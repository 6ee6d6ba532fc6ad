package kueue_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	kueue "sigs.k8s.io/kueue/apis/kueue/v1beta2"

	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/runid"
)

// TestKueueSuspendDeactivatesQueuedRun: a run that cannot be admitted (its
// 3 cpu peak is over the 2 cpu quota) waits Queued; suspending its job
// deactivates its Workload, so Kueue lets it out of the queue, and its
// driver stays gated; resuming activates it again.
func TestKueueSuspendDeactivatesQueuedRun(t *testing.T) {
	e := env.Env(t)
	ns := kueueNamespace(t, e, "2")
	startLoop(t, e, ns)
	create(t, e, piJob(t, ns, "pi"))

	var run string
	eventually(t, "the run queued", func() (bool, string) {
		d := driverOf(t, e, ns, "pi")
		if d == nil {
			return false, "no driver"
		}
		run = runid.NameOf(d)
		return runid.QueueGated(d) && workloadActive(t, e, ns, run) != nil, "gates " + gatesOf(d)
	})
	setSuspend(t, e, ns, true)
	eventually(t, "the queued Workload deactivated", func() (bool, string) {
		a := workloadActive(t, e, ns, run)
		return a != nil && !*a, "active " + boolString(a)
	})
	if d := driverOf(t, e, ns, "pi"); !runid.QueueGated(d) {
		t.Fatalf("the suspended job's driver left its queue gate: %v", d.Spec.SchedulingGates)
	}
	setSuspend(t, e, ns, false)
	eventually(t, "the Workload active again", func() (bool, string) {
		a := workloadActive(t, e, ns, run)
		return a != nil && *a, "active " + boolString(a)
	})
}

// workloadActive is the run's Workload's spec.active (true when unset);
// nil while there is no Workload.
func workloadActive(t testing.TB, e *testenv.Env, ns, run string) *bool {
	t.Helper()
	wl := &kueue.Workload{}
	if err := e.Client.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: run}, wl); err != nil {
		return nil
	}
	return ptr.To(ptr.Deref(wl.Spec.Active, true))
}

func setSuspend(t testing.TB, e *testenv.Env, ns string, suspend bool) {
	t.Helper()
	job := getJob(t, e, ns, "pi")
	patch := client.MergeFrom(job.DeepCopy())
	job.Spec.Suspend = ptr.To(suspend)
	if err := e.Client.Patch(t.Context(), job, patch); err != nil {
		t.Fatalf("set suspend=%t: %v", suspend, err)
	}
}

func boolString(b *bool) string {
	if b == nil {
		return "no Workload"
	}
	if *b {
		return "true"
	}
	return "false"
}

func gatesOf(p *corev1.Pod) string {
	s := ""
	for _, g := range p.Spec.SchedulingGates {
		s += g.Name + " "
	}
	return s
}
