package kueue_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	kueue "sigs.k8s.io/kueue/apis/kueue/v1beta2"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/runid"
)

// runTimes is what the benchmark saw of one run: when each event reached
// the benchmark process (a watch event's arrival, not a condition's
// lastTransitionTime, which has a resolution of one second).
type runTimes struct {
	reserved, admitted, released, bound time.Time
	queued, ending, ended               bool
}

// runTracker follows, with one watch on the namespace's Workloads and one
// on its driver pods, every run of a pass, and ends each driver KWOK runs.
type runTracker struct {
	e      *testenv.Env
	n      int
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{}
	errs   chan error

	mu       sync.Mutex
	runs     map[string]*runTimes
	held     map[string]bool // Workloads admitted and not yet deleted
	peakHeld int
	ended    int
	// queued counts the Workloads seen; allQueued is when the n-th came.
	queued    int
	allQueued time.Time
}

// watchRuns starts following the runs in ns, until n drivers ended.
func watchRuns(b *testing.B, e *testenv.Env, ns string, n int) *runTracker {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tr := &runTracker{
		e: e, n: n, cancel: cancel, done: make(chan struct{}), errs: make(chan error, n+2),
		runs: map[string]*runTimes{}, held: map[string]bool{},
	}
	b.Cleanup(tr.stop)
	wc, err := client.NewWithWatch(e.Config, client.Options{Scheme: e.Scheme})
	if err != nil {
		b.Fatal(err)
	}
	workloads := &cache.ListWatch{WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		return wc.Watch(ctx, &kueue.WorkloadList{}, client.InNamespace(ns), &client.ListOptions{Raw: &o})
	}}
	pods := e.Clientset.CoreV1().Pods(ns)
	drivers := &cache.ListWatch{WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		o.LabelSelector = v1alpha1.LabelSparkRole + "=" + v1alpha1.RoleDriver
		return pods.Watch(ctx, o)
	}}
	// The namespace is new: nothing to list, both watches start at its
	// creation.
	list, err := pods.List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		b.Fatal(err)
	}
	for _, lw := range []*cache.ListWatch{workloads, drivers} {
		w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, lw)
		if err != nil {
			b.Fatal(err)
		}
		tr.wg.Go(func() {
			defer w.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case ev, ok := <-w.ResultChan():
					if !ok {
						if ctx.Err() == nil {
							tr.errs <- errors.New("a watch of the benchmark ended")
						}
						return
					}
					tr.event(ctx, ev, time.Now())
				}
			}
		})
	}
	return tr
}

// event records what a watch event says of its run.
func (tr *runTracker) event(ctx context.Context, ev watch.Event, at time.Time) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	switch obj := ev.Object.(type) {
	case *kueue.Workload:
		tr.workloadEvent(ev.Type, obj, at)
	case *corev1.Pod:
		if ev.Type != watch.Deleted && obj.Annotations[v1alpha1.AnnotationQueue] != "" {
			tr.podEvent(ctx, obj, at)
		}
	}
}

func (tr *runTracker) run(name string) *runTimes {
	r := tr.runs[name]
	if r == nil {
		r = &runTimes{}
		tr.runs[name] = r
	}
	return r
}

func (tr *runTracker) workloadEvent(typ watch.EventType, wl *kueue.Workload, at time.Time) {
	if typ == watch.Deleted {
		delete(tr.held, wl.Name)
		return
	}
	if tr.runs[wl.Name] == nil || !tr.runs[wl.Name].queued {
		tr.run(wl.Name).queued = true
		if tr.queued++; tr.queued == tr.n {
			tr.allQueued = at
		}
	}
	r := tr.run(wl.Name)
	if r.reserved.IsZero() && apimeta.IsStatusConditionTrue(wl.Status.Conditions, kueue.WorkloadQuotaReserved) {
		r.reserved = at
	}
	if r.admitted.IsZero() && apimeta.IsStatusConditionTrue(wl.Status.Conditions, kueue.WorkloadAdmitted) {
		r.admitted = at
		tr.held[wl.Name] = true
		tr.peakHeld = max(tr.peakHeld, len(tr.held))
	}
}

func (tr *runTracker) podEvent(ctx context.Context, pod *corev1.Pod, at time.Time) {
	r := tr.run(runid.NameOf(pod))
	if r.released.IsZero() && !runid.QueueGated(pod) {
		r.released = at
	}
	if r.bound.IsZero() && pod.Spec.NodeName != "" {
		r.bound = at
	}
	switch {
	case pod.Status.Phase == corev1.PodRunning && !r.ending:
		// The kubelet's stand-in: the driver succeeds as soon as it runs.
		r.ending = true
		tr.wg.Go(func() {
			if err := endDriver(ctx, tr.e, pod); err != nil && ctx.Err() == nil {
				tr.errs <- err
			}
		})
	case pod.Status.Phase == corev1.PodSucceeded && !r.ended:
		r.ended = true
		tr.ended++
		if tr.ended == tr.n {
			close(tr.done)
		}
	}
}

// wait waits until every driver ended, failing on the first error of the
// watches or of ending a driver, or after timeout.
func (tr *runTracker) wait(b *testing.B, timeout time.Duration) {
	b.Helper()
	select {
	case <-tr.done:
	case err := <-tr.errs:
		b.Fatal(err)
	case <-time.After(timeout):
		tr.mu.Lock()
		defer tr.mu.Unlock()
		b.Fatalf("after %s, %d of %d drivers ended", timeout, tr.ended, tr.n)
	}
}

// stop ends the watches and waits for the tracker's goroutines.
func (tr *runTracker) stop() {
	tr.cancel()
	tr.wg.Wait()
}

// result is the pass's figures: for each run, admission → release and
// admission → bind; and admission → release of the runs admitted after
// every run was queued, once sparkcd no longer creates runs beside. A run seen released without being seen admitted
// fails the benchmark: every run here is queued.
func (tr *runTracker) result(b *testing.B, wall time.Duration) passResult {
	b.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	p := passResult{peakHeld: tr.peakHeld, wall: wall, runs: len(tr.runs)}
	for name, r := range tr.runs {
		if r.admitted.IsZero() || r.released.IsZero() || r.bound.IsZero() {
			b.Fatalf("run '%s': admitted at %v, released at %v, bound at %v: every run should have all three",
				name, r.admitted, r.released, r.bound)
		}
		p.toRelease = append(p.toRelease, r.released.Sub(r.admitted))
		if r.admitted.After(tr.allQueued) {
			p.inTurn = append(p.inTurn, r.released.Sub(r.admitted))
		}
		p.toBind = append(p.toBind, r.bound.Sub(r.admitted))
		if r.reserved.Equal(r.admitted) {
			p.sameEvent++
		}
	}
	return p
}
