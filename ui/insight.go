package ui

import (
	"fmt"
	"time"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// timelineOf turns the run's stored executor timeline (offsets after the
// driver's creation) into chart points; nil when the run has none.
func timelineOf(r *v1alpha1.RunStatus) []Point {
	if r.Insight == nil || r.Insight.Timeline.Len() == 0 || r.StartTime == nil {
		return nil
	}
	start, tl := r.StartTime.Time, r.Insight.Timeline.Points()
	points := make([]Point, 0, len(tl)+1)
	if tl[0].OffsetMillis > 0 {
		points = append(points, Point{Time: start})
	}
	for _, p := range tl {
		points = append(points, Point{Time: start.Add(time.Duration(p.OffsetMillis) * time.Millisecond), Executors: int(p.Executors)})
	}
	return points
}

// chartEnd is where a run's timeline ends: its completion, else when the
// job loop last looked at its executors, else now.
func chartEnd(r *v1alpha1.RunStatus, now time.Time) time.Time {
	switch {
	case r.CompletionTime != nil:
		return r.CompletionTime.Time
	case r.Insight != nil && r.Insight.ObservedTime != nil:
		return r.Insight.ObservedTime.Time
	default:
		return now
	}
}

// costView is what a run reserved, as the page shows it.
type costView struct {
	Peak                                   int32
	CoreSeconds, GiBSeconds                string
	DriverCoreSeconds, ExecutorCoreSeconds string
	DriverGiBSeconds, ExecutorGiBSeconds   string
	CoreHours                              string
}

// costOf is the run's reserved resources, nil before the job loop worked
// them out.
func costOf(r *v1alpha1.RunStatus) *costView {
	in := r.Insight
	if in == nil || (in.Driver == v1alpha1.Reserved{} && in.Executors == v1alpha1.Reserved{}) {
		return nil
	}
	f := func(v float64) string { return fmt.Sprintf("%.1f", v) }
	return &costView{Peak: in.PeakExecutors,
		CoreSeconds: f(in.CoreSeconds()), GiBSeconds: f(in.GiBSeconds()), CoreHours: fmt.Sprintf("%.3f", in.CoreSeconds()/3600),
		DriverCoreSeconds: f(in.Driver.CoreSeconds()), ExecutorCoreSeconds: f(in.Executors.CoreSeconds()),
		DriverGiBSeconds: f(in.Driver.GiBSeconds()), ExecutorGiBSeconds: f(in.Executors.GiBSeconds())}
}

// insightTimes are the moments the run's insight adds: its first executor.
func insightTimes(r *v1alpha1.RunStatus) []timeRow {
	if r.Insight == nil || r.Insight.FirstExecutorSeconds == nil || r.StartTime == nil {
		return nil
	}
	first := r.StartTime.Add(time.Duration(*r.Insight.FirstExecutorSeconds) * time.Second)
	return []timeRow{{Label: "First executor", Time: first.UTC().Format("2006-01-02 15:04:05Z") +
		", " + shortDuration(time.Duration(*r.Insight.FirstExecutorSeconds)*time.Second) + " after the driver"}}
}
