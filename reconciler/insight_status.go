package reconciler

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	resourcehelper "k8s.io/component-helpers/resource"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

// foldInsight sets run.Insight from what the watch holds of its executors
// (insight.go) and from its driver pod. An active run's record is as of
// the last change of its executor count, so a reconcile with nothing new
// writes nothing; a run's record at its end reserves up to its completion
// and stays as written. driver is nil when the driver pod is gone.
func (r *JobReconciler) foldInsight(rc *reconciliation, run *v1alpha1.RunStatus, driver *corev1.Pod) {
	var prev *v1alpha1.RunInsight
	if p := rc.runs[run.Name]; p != nil {
		prev = p.Insight
		if p != run && runid.Finished(p) && rc.recorded[run.Name] {
			run.Insight = prev
			return
		}
	}
	if run.AppID == "" || run.StartTime == nil {
		run.Insight = prev
		return
	}
	var end *time.Time
	if runid.Finished(run) && run.CompletionTime != nil {
		end = &run.CompletionTime.Time
	}
	run.Insight = r.executors.insight(runKey{rc.job.Namespace, run.AppID}, rc.job.Name, run.StartTime.Time, end, prev, driverRequests(driver))
}

// requests is a pod's cpu in millicores and memory in bytes.
type requests struct{ milliCPU, memoryBytes int64 }

// driverRequests are a driver pod's requests, its containers' and its
// overhead, as the scheduler counts them; nil without a pod.
func driverRequests(pod *corev1.Pod) *requests {
	if pod == nil {
		return nil
	}
	reqs := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
	return &requests{milliCPU: reqs.Cpu().MilliValue(), memoryBytes: reqs.Memory().Value()}
}

// insight works out one run's record: as of end when the run ended, else
// as of its last executor change (its start before any). prev is the
// record the status holds, which a track this process did not fold yet
// (sparkcd restarted during the run) starts from.
func (x *executors) insight(key runKey, job string, start time.Time, end *time.Time, prev *v1alpha1.RunInsight, driver *requests) *v1alpha1.RunInsight {
	if x.off {
		return prev
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	t := x.runs[key]
	if t == nil {
		t = &runTrack{job: job, live: map[types.UID]lifetime{}}
		x.runs[key] = t
	}
	if !t.seeded {
		t.seed(prev, start)
	}
	// An active run's record is as of its last change, at the API's
	// one-second precision: its observedTime then says exactly up to when
	// it counted the live executors, which seed relies on.
	asOf := start
	if k := len(t.timeline); k > 0 && t.timeline[k-1].at.After(asOf) {
		asOf = t.timeline[k-1].at.Truncate(time.Second)
	}
	if end != nil {
		asOf = *end
	}
	out := &v1alpha1.RunInsight{
		PeakExecutors:   t.peak,
		DurationSeconds: int64(asOf.Sub(start) / time.Second),
		Executors:       t.reservedAt(asOf),
		ObservedTime:    &metav1.Time{Time: asOf.Truncate(time.Second)},
	}
	switch {
	case driver != nil:
		out.Driver = reservedBetween(driver.milliCPU, driver.memoryBytes, start, asOf)
	case prev != nil:
		out.Driver = prev.Driver
	}
	if !t.first.IsZero() {
		s := max(int64(t.first.Sub(start)/time.Second), 0)
		out.FirstExecutorSeconds = &s
	}
	if k := len(t.timeline); k > 0 {
		out.Timeline = &v1alpha1.ExecutorTimeline{OffsetsMillis: make([]int64, k), Executors: make([]int32, k)}
		for i, p := range t.timeline {
			out.Timeline.OffsetsMillis[i], out.Timeline.Executors[i] = max(p.at.Sub(start).Milliseconds(), 0), p.n
		}
	}
	return out
}

// reservedAt is what the run's executors reserved until at: those that
// ended, and the live ones up to at.
func (t *runTrack) reservedAt(at time.Time) v1alpha1.Reserved {
	sum := t.ended
	for _, l := range t.live {
		sum = addReserved(sum, l.reserved(at))
	}
	return sum
}

// liveMilliCPU is the cpu the live executors request together.
func (t *runTrack) liveMilliCPU() int64 {
	var m int64
	for _, l := range t.live {
		m += l.milliCPU
	}
	return m
}

// seed starts a track from the record a status holds, written before this
// process followed the run: the executors that ended are what that record
// reserved less what the executors live now had reserved by then.
func (t *runTrack) seed(prev *v1alpha1.RunInsight, start time.Time) {
	t.seeded = true
	if prev == nil {
		return
	}
	var asOf time.Time
	if prev.ObservedTime != nil {
		asOf = prev.ObservedTime.Time
	}
	ended := prev.Executors
	for _, l := range t.live {
		r := l.reserved(asOf)
		ended.MilliCoreSeconds -= r.MilliCoreSeconds
		ended.MiBSeconds -= r.MiBSeconds
	}
	t.ended = addReserved(t.ended, v1alpha1.Reserved{MilliCoreSeconds: max(ended.MilliCoreSeconds, 0), MiBSeconds: max(ended.MiBSeconds, 0)})
	t.peak = max(t.peak, prev.PeakExecutors)
	if prev.FirstExecutorSeconds != nil {
		if f := start.Add(time.Duration(*prev.FirstExecutorSeconds) * time.Second); t.first.IsZero() || f.Before(t.first) {
			t.first = f
		}
	}
	old := make([]point, 0, prev.Timeline.Len()+len(t.timeline))
	for _, p := range prev.Timeline.Points() {
		old = append(old, point{at: start.Add(time.Duration(p.OffsetMillis) * time.Millisecond), n: p.Executors})
	}
	for _, p := range t.timeline {
		if k := len(old); k == 0 || (p.at.After(old[k-1].at) && p.n != old[k-1].n) {
			old = append(old, p)
		}
	}
	t.timeline = compress(old, v1alpha1.MaxTimelinePoints)
}

// compress bounds a timeline to at most limit points, deterministically:
// while it is longer, the two neighbouring points closest in time merge
// into one, at the earlier time, with the larger count — so the peak
// survives — and the earliest such pair goes first. The first point keeps
// its time and the last point, the current count, is never merged away.
func compress(ps []point, limit int) []point {
	for len(ps) > limit && len(ps) > 2 {
		best := 1
		for i := 2; i < len(ps)-1; i++ {
			if ps[i].at.Sub(ps[i-1].at) < ps[best].at.Sub(ps[best-1].at) {
				best = i
			}
		}
		ps[best-1].n = max(ps[best-1].n, ps[best].n)
		ps = append(ps[:best], ps[best+1:]...)
	}
	return ps
}
