package ui

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestChart(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	tests := []struct {
		name     string
		points   []Point
		end      time.Time
		wantXY   [][2]string
		wantPath string
		wantSpan string
	}{
		{name: "1 → 5 → 1 over 100 s", points: []Point{{at(0), 1}, {at(10), 5}, {at(60), 1}}, end: at(100),
			wantXY:   [][2]string{{"44", "154.8"}, {"102", "14"}, {"392", "154.8"}},
			wantPath: "M44 154.8 H102 V14 H392 V154.8 H624", wantSpan: "1m40s"},
		{name: "an end before the last point ends there", points: []Point{{at(0), 0}, {at(50), 2}}, end: at(10),
			wantXY:   [][2]string{{"44", "190"}, {"624", "14"}},
			wantPath: "M44 190 H624 V14 H624", wantSpan: "50s"},
		{name: "one point", points: []Point{{at(0), 3}}, end: at(0),
			wantXY: [][2]string{{"44", "14"}}, wantPath: "M44 14 H44", wantSpan: "1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChart(tt.points, tt.end)
			var xy [][2]string
			for _, p := range c.Points {
				xy = append(xy, [2]string{p.X, p.Y})
			}
			if diff := cmp.Diff(tt.wantXY, xy); diff != "" {
				t.Errorf("points (-want +got):\n%s", diff)
			}
			if c.Path != tt.wantPath {
				t.Errorf("path %q, want %q", c.Path, tt.wantPath)
			}
			if got := c.Axes[len(c.Axes)-1].Text; got != tt.wantSpan {
				t.Errorf("time axis ends at %q, want %q", got, tt.wantSpan)
			}
		})
	}
	if newChart(nil, t0) != nil {
		t.Error("no points drew a chart")
	}
}
