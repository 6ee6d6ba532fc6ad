package reconciler

// ReleasePatch is the patch that releases a driver to the scheduler, for
// the benchmarks of package reconciler_test that make sparkcd's requests
// themselves (floor_bench_test.go).
var ReleasePatch = releasePatch
