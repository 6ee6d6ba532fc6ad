package ui

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Point is one change of a run's live executor count: from Time on, the
// run had Executors executors.
type Point struct {
	Time      time.Time
	Executors int
}

// The chart's geometry, in SVG user units.
const (
	chartWidth  = 640
	chartHeight = 220
	chartLeft   = 44
	chartRight  = 16
	chartTop    = 14
	chartBottom = 30
)

// chartView is a step chart of executors over time, ready for the
// template: the path, one marker per point, and the axis labels.
type chartView struct {
	Width, Height int
	Path          string
	Points        []chartPoint
	Axes          []chartLabel
	Grid          []chartLine
}

type chartPoint struct {
	X, Y      string
	Executors int
	// OffsetMS is the point's time after the chart's start, for the page's
	// tooltips and the tests.
	OffsetMS int64
	Title    string
}

type chartLabel struct {
	X, Y, Anchor, Text string
}

type chartLine struct {
	X1, Y1, X2, Y2 string
}

// newChart draws points as a step chart from the first point to end (the
// run's completion, or now while it runs). It takes nothing but the points,
// so any timeline can be drawn; it returns nil for no points.
func newChart(points []Point, end time.Time) *chartView {
	if len(points) == 0 {
		return nil
	}
	start := points[0].Time
	last := points[len(points)-1].Time
	if end.Before(last) {
		end = last
	}
	span := end.Sub(start)
	if span <= 0 {
		span = time.Second
	}
	peak := 1
	for _, p := range points {
		peak = max(peak, p.Executors)
	}
	plotW := float64(chartWidth - chartLeft - chartRight)
	plotH := float64(chartHeight - chartTop - chartBottom)
	x := func(t time.Time) float64 { return chartLeft + plotW*float64(t.Sub(start))/float64(span) }
	y := func(n int) float64 { return chartTop + plotH - plotH*float64(n)/float64(peak) }
	c := &chartView{Width: chartWidth, Height: chartHeight}
	var d strings.Builder
	for i, p := range points {
		px, py := x(p.Time), y(p.Executors)
		if i == 0 {
			fmt.Fprintf(&d, "M%s %s", num(px), num(py))
		} else {
			fmt.Fprintf(&d, " H%s V%s", num(px), num(py))
		}
		off := p.Time.Sub(start)
		c.Points = append(c.Points, chartPoint{X: num(px), Y: num(py), Executors: p.Executors, OffsetMS: off.Milliseconds(),
			Title: fmt.Sprintf("%s: %d executors", shortDuration(off), p.Executors)})
	}
	fmt.Fprintf(&d, " H%s", num(x(end)))
	c.Path = d.String()
	bottom, right := num(chartTop+plotH), num(chartLeft+plotW)
	c.Grid = []chartLine{
		{X1: num(chartLeft), Y1: num(chartTop), X2: num(chartLeft), Y2: bottom},
		{X1: num(chartLeft), Y1: bottom, X2: right, Y2: bottom},
		{X1: num(chartLeft), Y1: num(y(peak)), X2: right, Y2: num(y(peak))},
	}
	c.Axes = []chartLabel{
		{X: num(chartLeft - 6), Y: num(y(0) + 4), Anchor: "end", Text: "0"},
		{X: num(chartLeft - 6), Y: num(y(peak) + 4), Anchor: "end", Text: strconv.Itoa(peak)},
		{X: num(chartLeft), Y: num(chartHeight - 10), Anchor: "start", Text: "0s"},
		{X: right, Y: num(chartHeight - 10), Anchor: "end", Text: shortDuration(span)},
	}
	return c
}

// num prints a coordinate with at most one decimal.
func num(f float64) string { return strconv.FormatFloat(float64(int64(f*10+0.5))/10, 'f', -1, 64) }

// shortDuration prints d rounded to the second, or to the minute past an
// hour.
func shortDuration(d time.Duration) string {
	if d >= time.Hour {
		return d.Round(time.Minute).String()
	}
	return d.Round(time.Second).String()
}
