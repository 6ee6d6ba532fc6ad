package reconciler_test

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

var benchWriteJobs = flag.Int("sparkcd.write-jobs", 100, "SparkJobs whose runs BenchmarkRunWrites follows from creation to end")

// runWritesTarget is the target of API writes per run of
// BenchmarkRunWrites, from the SparkJob's creation to the run's end, for a
// run of ten executors. The floor of what a run guarantees is six: the
// driver's create (gated), its ConfigMap and Service, the gate's removal,
// the status that records the start and the one that records the end.
// What sparkcd adds on purpose: the status of the driver Running, the
// RunStarted and RunSucceeded events, and the executor count, which this
// benchmark waits to see at ten and then at zero (two writes at least):
// eleven. 12.5 is just under the median reached, 12.56 (docs/scaling.md);
// the rest is executor counts that came more than executorWritePace apart.
const runWritesTarget = 12.5

// BenchmarkRunWrites counts the job loop's API writes for one run, from
// its SparkJob's creation to the run's end: -sparkcd.write-jobs SparkJobs
// are created, their drivers marked Running and then Succeeded as a
// kubelet would, and the loop's writes (POST, PUT, PATCH, DELETE) are
// counted by verb and resource once every run's end is recorded and its
// event sent. It reports writes per run, in all and by verb and resource.
func BenchmarkRunWrites(b *testing.B) {
	e := env.Env(b)
	n := *benchWriteJobs
	tally := &writeTally{by: map[string]int{}}
	for range b.N {
		ns := sparkNamespace(b, e)
		tally.ns = ns
		mgr, _ := jobLoopManager(b, e, reconciler.JobOptions{}, []string{ns}, tally.wrap)
		stop := runManager(b, mgr)
		wait := watchReleased(b, e, ns, n)
		createJobs(b, e, ns, n)
		wait()
		waitRecorded(b, e, ns, n)
		drivers := runningDrivers(b, e, ns, n)
		scaleExecutors(b, e, drivers)
		waitAllJobs(b, e, ns, n, "10 executors each", func(j *v1alpha1.SparkJob) bool {
			return j.Status.LastRun.Executors == insightExecutors
		})
		removeExecutors(b, e, ns, n)
		waitAllJobs(b, e, ns, n, "no executor left", func(j *v1alpha1.SparkJob) bool {
			return j.Status.LastRun.Executors == 0
		})
		markDrivers(b, e, ns, n, succeeded)
		waitAllJobs(b, e, ns, n, "every run Succeeded", func(j *v1alpha1.SparkJob) bool {
			return j.Status.LastRun.Phase == v1alpha1.RunSucceeded
		})
		waitEvents(b, e, ns, reconciler.EventRunSucceeded, n)
		stop()
	}
	runs := float64(n * b.N)
	total := 0
	for _, key := range slices.Sorted(maps.Keys(tally.by)) {
		total += tally.by[key]
		b.ReportMetric(float64(tally.by[key])/runs, key+"/run")
	}
	b.ReportMetric(float64(total)/runs, "writes/run")
	atMost(b, "API writes per run, SparkJob → run finished", float64(total)/runs, "", runWritesTarget)
}

// writeTally counts a loop's writes by verb and resource: in its
// namespace as "PATCH-sparkjobs/status", elsewhere (the driver's access
// review) as "POST-cluster"; a write the API server refused has its
// status code after ("POST-configmaps-409").
type writeTally struct {
	ns string
	mu sync.Mutex
	by map[string]int
}

func (w *writeTally) wrap(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		switch req.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			key := req.Method + "-" + w.resource(req.URL.Path)
			if err == nil && resp.StatusCode >= 300 {
				key += fmt.Sprintf("-%d", resp.StatusCode)
			}
			w.mu.Lock()
			w.by[key]++
			w.mu.Unlock()
		}
		return resp, err
	})
}

// resource names a request's resource in the tally's namespace:
// /api/v1/namespaces/<ns>/<resource>[/<name>[/<sub>]].
func (w *writeTally) resource(path string) string {
	_, rest, ok := strings.Cut(path, "/namespaces/"+w.ns+"/")
	if !ok {
		return "cluster"
	}
	parts := strings.Split(rest, "/")
	if len(parts) > 2 {
		return parts[0] + "/" + parts[2]
	}
	return parts[0]
}

// waitEvents waits until n SparkJobs of ns have an event with reason.
func waitEvents(b testing.TB, e *testenv.Env, ns, reason string, n int) {
	eventually(b, "every "+reason+" event", func() (bool, string) {
		events := &eventsv1.EventList{}
		if err := e.Client.List(context.Background(), events, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		jobs := map[string]bool{}
		for _, ev := range events.Items {
			if ev.Reason == reason && ev.Regarding.Kind == v1alpha1.SparkJobKind {
				jobs[ev.Regarding.Name] = true
			}
		}
		return len(jobs) >= n, fmt.Sprintf("%d of %d jobs", len(jobs), n)
	})
}
