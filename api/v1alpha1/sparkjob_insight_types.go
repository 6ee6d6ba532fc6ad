package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// MaxTimelinePoints bounds RunInsight.Timeline: a longer timeline is
// compressed (docs/run-insight.md), so a run's record stays under about
// 2 KiB however long it runs and however often its executors change.
const MaxTimelinePoints = 128

// RunInsight is what the job loop saw of a run's executors and what the
// run reserved: requests × lifetime of its driver and executor pods.
type RunInsight struct {
	// PeakExecutors is the most executor pods the run had live at once.
	// +optional
	PeakExecutors int32 `json:"peakExecutors,omitempty"`
	// FirstExecutorSeconds is the time from the driver's creation to the
	// creation of the run's first executor pod; unset until one exists.
	// +optional
	FirstExecutorSeconds *int64 `json:"firstExecutorSeconds,omitempty"`
	// DurationSeconds is the time from the driver's creation to the run's
	// completion, or to ObservedTime while the run is active.
	// +optional
	DurationSeconds int64 `json:"durationSeconds,omitempty"`
	// Driver is what the driver pod reserved.
	// +optional
	Driver Reserved `json:"driver,omitempty"`
	// Executors is what the executor pods reserved together.
	// +optional
	Executors Reserved `json:"executors,omitempty"`
	// Timeline holds the change points of the live executor count, oldest
	// first, at most MaxTimelinePoints.
	// +optional
	Timeline *ExecutorTimeline `json:"timeline,omitempty"`
	// ObservedTime is when the reservations were last worked out: the
	// run's completion once it ended.
	// +optional
	ObservedTime *metav1.Time `json:"observedTime,omitempty"`
}

// Reserved is the resources pods reserved over their lifetimes: their
// requests (containers, the largest init container, and the pod overhead)
// times the seconds from creation to termination or deletion.
type Reserved struct {
	// MilliCoreSeconds is cpu requested in millicores × seconds.
	// +optional
	MilliCoreSeconds int64 `json:"milliCoreSeconds,omitempty"`
	// MiBSeconds is memory requested in MiB × seconds.
	// +optional
	MiBSeconds int64 `json:"mibSeconds,omitempty"`
}

// ExecutorTimeline is the change points of a run's live executor count,
// oldest first, as two lists of the same length: point i is
// executors[i] from offsetsMillis[i] on. Two lists of numbers, not a list
// of objects, because the record is carried by every status write of an
// active run: a point costs about 8 bytes of JSON instead of about 40
// (docs/run-insight.md, BenchmarkRunInsightCost).
// +kubebuilder:validation:XValidation:rule="size(self.offsetsMillis) == size(self.executors)",message="offsetsMillis and executors must have the same length"
type ExecutorTimeline struct {
	// OffsetsMillis are the times of the changes, in milliseconds after the
	// driver's creation (the run's startTime).
	// +kubebuilder:validation:MaxItems=128
	OffsetsMillis []int64 `json:"offsetsMillis"`
	// Executors are the live executor counts from each change on.
	// +kubebuilder:validation:MaxItems=128
	Executors []int32 `json:"executors"`
}

// TimelineOf makes a timeline of points; nil when there are none.
func TimelineOf(points []ExecutorPoint) *ExecutorTimeline {
	if len(points) == 0 {
		return nil
	}
	tl := &ExecutorTimeline{OffsetsMillis: make([]int64, len(points)), Executors: make([]int32, len(points))}
	for i, p := range points {
		tl.OffsetsMillis[i], tl.Executors[i] = p.OffsetMillis, p.Executors
	}
	return tl
}

// Points are the timeline's change points, oldest first; none for a nil
// timeline. A point without its pair (a status written by hand) is left out.
func (tl *ExecutorTimeline) Points() []ExecutorPoint {
	if tl == nil {
		return nil
	}
	n := min(len(tl.OffsetsMillis), len(tl.Executors))
	out := make([]ExecutorPoint, n)
	for i := range n {
		out[i] = ExecutorPoint{OffsetMillis: tl.OffsetsMillis[i], Executors: tl.Executors[i]}
	}
	return out
}

// Len is the number of change points.
func (tl *ExecutorTimeline) Len() int {
	if tl == nil {
		return 0
	}
	return min(len(tl.OffsetsMillis), len(tl.Executors))
}

// ExecutorPoint is one change of a run's live executor count, as
// ExecutorTimeline.Points gives it.
type ExecutorPoint struct {
	// OffsetMillis is the time of the change, in milliseconds after the
	// driver's creation (the run's startTime).
	OffsetMillis int64 `json:"offsetMillis"`
	// Executors is the live executor count from then on.
	Executors int32 `json:"executors"`
}

// CoreSeconds is the cpu reserved, in core-seconds.
func (r Reserved) CoreSeconds() float64 { return float64(r.MilliCoreSeconds) / 1000 }

// GiBSeconds is the memory reserved, in GiB-seconds.
func (r Reserved) GiBSeconds() float64 { return float64(r.MiBSeconds) / 1024 }

// CoreSeconds is what driver and executors reserved together, in
// core-seconds.
func (in *RunInsight) CoreSeconds() float64 {
	return in.Driver.CoreSeconds() + in.Executors.CoreSeconds()
}

// GiBSeconds is what driver and executors reserved together, in
// GiB-seconds.
func (in *RunInsight) GiBSeconds() float64 {
	return in.Driver.GiBSeconds() + in.Executors.GiBSeconds()
}
