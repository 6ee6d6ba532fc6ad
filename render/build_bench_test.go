package render

import (
	"testing"
	"time"
)

// BenchmarkBuildCold builds 100 per-job overlays with no cache.
func BenchmarkBuildCold(b *testing.B) {
	root := perJobRepo(b, 100)
	for b.Loop() {
		if _, err := Build(b.Context(), root, "jobs/*/overlays/prod", DefaultBuildOptions()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildCachedNothingChanged re-renders 300 per-job overlays from
// a warm cache, files older than the racy window (stats trusted).
func BenchmarkBuildCachedNothingChanged(b *testing.B) {
	root := perJobRepo(b, 300)
	age(b, root)
	time.Sleep(racyWindow + 500*time.Millisecond) // ctime, which age cannot set back
	opts := DefaultBuildOptions()
	opts.Cache = NewCache()
	for range 2 {
		if _, err := Build(b.Context(), root, "jobs/*/overlays/prod", opts); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if _, err := Build(b.Context(), root, "jobs/*/overlays/prod", opts); err != nil {
			b.Fatal(err)
		}
	}
}
