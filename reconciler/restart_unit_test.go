package reconciler

import (
	"testing"
	"time"
)

// TestBackoff: interval × 2^(f-1), capped at max(interval, maxRestartBackoff).
func TestBackoff(t *testing.T) {
	tests := []struct {
		name     string
		interval time.Duration
		f        int
		want     time.Duration
	}{
		{name: "first failure", interval: 5 * time.Second, f: 1, want: 5 * time.Second},
		{name: "third failure", interval: 5 * time.Second, f: 3, want: 20 * time.Second},
		{name: "capped", interval: 5 * time.Second, f: 20, want: maxRestartBackoff},
		{name: "many failures", interval: 5 * time.Second, f: 1 << 20, want: maxRestartBackoff},
		{name: "interval above the cap", interval: time.Hour, f: 4, want: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := backoff(tt.interval, tt.f); got != tt.want {
				t.Errorf("backoff(%v, %d) = %v, want %v", tt.interval, tt.f, got, tt.want)
			}
		})
	}
}

// TestCeilSecond: a retry time never rounds down, before its interval.
func TestCeilSecond(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if got := ceilSecond(base); !got.Equal(base) {
		t.Errorf("ceilSecond(%v) = %v", base, got)
	}
	if got := ceilSecond(base.Add(time.Millisecond)); !got.Equal(base.Add(time.Second)) {
		t.Errorf("ceilSecond(+1ms) = %v, want %v", got, base.Add(time.Second))
	}
}
