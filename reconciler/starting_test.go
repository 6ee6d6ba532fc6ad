package reconciler_test

import (
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/runid"
)

// breaker fails every request of its point until healed, as a cut
// connection to the API server does, and counts them.
type breaker struct {
	point   *crasher
	healed  atomic.Bool
	blocked atomic.Int64
}

func (b *breaker) wrap(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if !b.healed.Load() && b.point.matches(req) {
			b.blocked.Add(1)
			return nil, errors.New("connection to the API server cut")
		}
		return next.RoundTrip(req)
	})
}

// TestStartFinishedAfterSpecChange: a running loop whose run start broke
// after the driver's create — every ConfigMap create fails, as when the
// connection to the API server is cut — and whose job's spec changes
// before the API server is reachable again finishes that run from the
// spec it began it with: the run starts as due, not Failed/Interrupted
// (that is for a run another process left half-made, TestCrashAfterEachWrite),
// and the new spec's run waits for it (concurrencyPolicy Forbid).
func TestStartFinishedAfterSpecChange(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	job := piJob(t, ns, "cut")
	if err := e.Client.Create(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	first := runid.OfflineRun(job, "")
	began := time.Now()

	b := &breaker{point: newCrasher(ns, crashPoints[1])}
	mgr, _ := jobLoopManager(t, e, reconciler.JobOptions{}, []string{ns}, b.wrap)
	runManager(t, mgr)
	// After 7 failed attempts the loop's back-off is 6.4 s (50 ms doubled
	// each time): the next attempt is the reconcile the spec's change
	// triggers, from a cache that holds the new spec. (Were it the
	// back-off's, the test would pass without saying anything: it cannot
	// fail by timing.)
	eventually(t, "the run's ConfigMap create failing 7 times", func() (bool, string) {
		n := b.blocked.Load()
		return n >= 7, fmt.Sprintf("%d failed", n)
	})
	if n := checkNoHalfMadeDriver(t, ns); n != 1 {
		t.Fatalf("%d gated drivers, want 1", n)
	}
	before := b.blocked.Load()
	updateJob(t, e, ns, job.Name, func(j *v1alpha1.SparkJob) { j.Spec.Arguments = []string{"200"} })
	eventually(t, "an attempt with the new spec", func() (bool, string) {
		n := b.blocked.Load()
		return n > before, fmt.Sprintf("%d failed", n)
	})
	b.healed.Store(true)
	// An annotation's change is reconciled at once, not after the
	// back-off the failures built up.
	updateJob(t, e, ns, job.Name, func(j *v1alpha1.SparkJob) { metav1.SetMetaDataAnnotation(&j.ObjectMeta, "test/healed", "yes") })

	t.Logf("healed after %s", time.Since(began))
	got := outcome(t, ns, job.Name, first, true, true, crashPoints[1])
	t.Logf("start broken after the driver's create, spec changed, connection back after %d failed creates: %s", b.blocked.Load(), got)
}
