package reconciler

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	resourcehelper "k8s.io/component-helpers/resource"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

// executors follows the executor pods of every active run from the pod
// watch itself, not from the reconciles it wakes: the work queue folds the
// events of an executor created and deleted between two reconciles into
// one, and the cache then holds no trace of it, while its lifetime is
// reserved cost. The job loop folds what it holds into the run's
// status.insight (insight_status.go). Only what a run needs is kept: its
// live executors (start and requests), the sums of those that ended, its
// timeline and peak; an ended executor is forgotten at once, and a run
// once the status records its end.
type executors struct {
	clock clock.PassiveClock
	// off turns the bookkeeping off (JobOptions.DisableRunInsight).
	off  bool
	mu   sync.Mutex
	runs map[runKey]*runTrack
}

// runKey names a run by its namespace and spark.app.id.
type runKey struct{ namespace, appID string }

// runTrack is what the watch saw of one run's executors.
type runTrack struct {
	// job is the SparkJob's name, to forget its runs with it.
	job  string
	live map[types.UID]lifetime
	// ended sums the reservations of the executors that ended.
	ended v1alpha1.Reserved
	// timeline are the count's change points, in observed time.
	timeline []point
	peak     int32
	// first is the creation of the first executor seen.
	first time.Time
	// seeded is set once the status's record of the run (from before a
	// restart of sparkcd) was folded in.
	seeded bool
	// version counts the changes, so the loop rewrites the status only
	// when something changed.
	version uint64
}

// point is a change of the live executor count, at the time observed.
type point struct {
	at time.Time
	n  int32
}

// lifetime is one executor pod's requests since its creation.
type lifetime struct {
	start       time.Time
	milliCPU    int64
	memoryBytes int64
}

func newExecutors(c clock.PassiveClock, on bool) *executors {
	return &executors{clock: c, off: !on, runs: map[runKey]*runTrack{}}
}

// handler wraps next, the mapping of pods to their jobs, so that every
// event of an executor pod is recorded before its job is woken.
func (x *executors) handler(next handler.EventHandler) handler.EventHandler {
	if x.off {
		return next
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			x.observe(e.Object, false)
			next.Create(ctx, e, q)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			x.observe(e.ObjectNew, false)
			next.Update(ctx, e, q)
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			x.observe(e.Object, true)
			next.Delete(ctx, e, q)
		},
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			next.Generic(ctx, e, q)
		},
	}
}

// observe records one event of a pod: a live executor starts being
// counted, an executor that ended or went away stops, at its end time
// (endOf).
func (x *executors) observe(obj client.Object, deleted bool) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Labels[v1alpha1.LabelSparkRole] != v1alpha1.RoleExecutor || pod.Labels[v1alpha1.LabelSparkAppSelector] == "" {
		return
	}
	key := runKey{pod.Namespace, pod.Labels[v1alpha1.LabelSparkAppSelector]}
	live := !deleted && runid.ExecutorActive(pod)
	now := x.clock.Now()
	x.mu.Lock()
	defer x.mu.Unlock()
	t := x.runs[key]
	if t == nil {
		if !live {
			// An executor of a run not followed (ended, or never seen
			// live): nothing to account for.
			return
		}
		t = &runTrack{job: pod.Labels[v1alpha1.LabelJob], live: map[types.UID]lifetime{}}
		x.runs[key] = t
	}
	_, known := t.live[pod.UID]
	switch {
	case live && !known:
		t.open(pod, now)
	case !live && known:
		t.close(pod, now)
	}
}

// open starts counting an executor.
func (t *runTrack) open(pod *corev1.Pod, now time.Time) {
	reqs := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
	l := lifetime{start: pod.CreationTimestamp.Time, milliCPU: reqs.Cpu().MilliValue(), memoryBytes: reqs.Memory().Value()}
	t.live[pod.UID] = l
	if t.first.IsZero() || l.start.Before(t.first) {
		t.first = l.start
	}
	t.mark(now)
}

// close stops counting an executor and adds its reservation to the sums.
func (t *runTrack) close(pod *corev1.Pod, now time.Time) {
	l := t.live[pod.UID]
	delete(t.live, pod.UID)
	t.ended = addReserved(t.ended, l.reserved(endOf(pod, now)))
	t.mark(now)
}

// mark records the live count at now.
func (t *runTrack) mark(now time.Time) {
	n := int32(len(t.live))
	t.peak = max(t.peak, n)
	t.version++
	// Changes within one millisecond, the timeline's precision, are one.
	now = now.Truncate(time.Millisecond)
	if k := len(t.timeline); k > 0 && !now.After(t.timeline[k-1].at) {
		t.timeline[k-1].n = n
		return
	}
	t.timeline = compress(append(t.timeline, point{at: now, n: n}), v1alpha1.MaxTimelinePoints)
}

// endOf is when an executor stopped reserving its requests, from the pod's
// own fields where it has them: its containers' termination, else the time
// its deletion was asked for (deletionTimestamp less its grace period),
// else now, when the watch saw it go (an unscheduled pod is removed at
// once, without a deletionTimestamp).
func endOf(pod *corev1.Pod, now time.Time) time.Time {
	var end time.Time
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		for _, c := range pod.Status.ContainerStatuses {
			if term := c.State.Terminated; term != nil && term.FinishedAt.After(end) {
				end = term.FinishedAt.Time
			}
		}
	}
	if end.IsZero() && pod.DeletionTimestamp != nil {
		end = pod.DeletionTimestamp.Time
		if g := pod.DeletionGracePeriodSeconds; g != nil {
			end = end.Add(-time.Duration(*g) * time.Second)
		}
	}
	if end.IsZero() {
		end = now
	}
	return end
}

// reserved is what the executor reserved from its creation to end.
func (l lifetime) reserved(end time.Time) v1alpha1.Reserved {
	return reservedBetween(l.milliCPU, l.memoryBytes, l.start, end)
}

// reservedBetween is requests × the seconds from start to end (none when
// end is not after start), rounded to the millisecond.
func reservedBetween(milliCPU, memoryBytes int64, start, end time.Time) v1alpha1.Reserved {
	ms := end.Sub(start).Milliseconds()
	if ms <= 0 {
		return v1alpha1.Reserved{}
	}
	return v1alpha1.Reserved{
		MilliCoreSeconds: milliCPU * ms / 1000,
		MiBSeconds:       int64(float64(memoryBytes) / (1 << 20) * float64(ms) / 1000),
	}
}

func addReserved(a, b v1alpha1.Reserved) v1alpha1.Reserved {
	return v1alpha1.Reserved{MilliCoreSeconds: a.MilliCoreSeconds + b.MilliCoreSeconds, MiBSeconds: a.MiBSeconds + b.MiBSeconds}
}

// forgetJob drops the runs of a deleted job.
func (x *executors) forgetJob(namespace, job string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for k, t := range x.runs {
		if k.namespace == namespace && t.job == job {
			delete(x.runs, k)
		}
	}
}

// forgetEnded drops the runs whose end the job's status records: their
// record is final.
func (x *executors) forgetEnded(job *v1alpha1.SparkJob) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for i := range job.Status.History {
		delete(x.runs, runKey{job.Namespace, job.Status.History[i].AppID})
	}
}
