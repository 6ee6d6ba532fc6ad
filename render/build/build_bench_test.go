package build

import (
	"fmt"
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

// BenchmarkBuildCachedOneChanged re-renders 300 per-job overlays from a
// warm cache after changing one job file.
func BenchmarkBuildCachedOneChanged(b *testing.B) {
	root := perJobRepo(b, 300)
	age(b, root)
	time.Sleep(racyWindow + 500*time.Millisecond)
	opts := DefaultBuildOptions()
	opts.Cache = NewCache()
	for range 2 {
		if _, err := Build(b.Context(), root, "jobs/*/overlays/prod", opts); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		job := fmt.Sprintf("job-%03d", i%300)
		writeFiles(b, root, map[string]string{"jobs/" + job + "/base/job.yaml": fmt.Sprintf(
			"apiVersion: sparkcd.io/v1alpha1\nkind: SparkJob\nmetadata: {name: %s}\nspec: {type: Python, mainApplicationFile: local:///x.py, executor: {instances: %d}}\n", job, i)})
		b.StartTimer()
		if _, err := Build(b.Context(), root, "jobs/*/overlays/prod", opts); err != nil {
			b.Fatal(err)
		}
	}
}
