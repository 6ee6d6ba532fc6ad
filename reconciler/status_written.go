package reconciler

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// staleCacheRecheck bounds how long a reconcile deferred for a stale cache
// waits when no update of its SparkJob wakes it (see writtenStatus).
const staleCacheRecheck = 5 * time.Second

// writtenStatus remembers, for each SparkJob whose status the loop wrote,
// the resourceVersion that write replaced, until the cache shows the job
// past it: the expectations of kube-controller-manager's controllers,
// for the loop's own status. A reconcile that reads the job at that
// version works from a status without the loop's last write — a run it
// just started looks unrecorded, and is completed and reported again —
// so it is deferred until the cache has the write. Without it, the
// release of a driver wakes its job (a pod event) before the job's cache
// has the status that records the run: measured, two of three starts
// then created their ConfigMap and Service a second time (AlreadyExists)
// and wrote a status that conflicted (BenchmarkRunWrites,
// docs/scaling.md).
//
// Status writes wake no reconcile (the SparkJob watch passes generation,
// label and annotation changes only), so a deferred reconcile waits for
// its job's next update through wakePredicate.
type writtenStatus struct {
	mu sync.Mutex
	m  map[types.NamespacedName]*statusWrite
	// last is when each job's status was last written (status_pace.go).
	last map[types.NamespacedName]time.Time
}

type statusWrite struct {
	// replaced is the resourceVersion the write replaced.
	replaced string
	// waiting is set while a reconcile waits for the cache.
	waiting bool
}

func newWrittenStatus() *writtenStatus {
	return &writtenStatus{m: map[types.NamespacedName]*statusWrite{}, last: map[types.NamespacedName]time.Time{}}
}

// wrote notes a status write that replaced the version replaced.
func (w *writtenStatus) wrote(key types.NamespacedName, replaced string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.m[key] = &statusWrite{replaced: replaced}
	w.last[key] = time.Now()
}

// lastWrite is when the loop last wrote the job's status.
func (w *writtenStatus) lastWrite(key types.NamespacedName) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.last[key]
	return t, ok
}

// stale reports whether job, read from the cache, is the version the
// loop's last status write replaced, and marks the job as waiting for its
// next update when it is. A cache past that version (it only moves
// forward) ends the wait.
func (w *writtenStatus) stale(job client.Object) bool {
	key := client.ObjectKeyFromObject(job)
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.m[key]
	if s == nil {
		return false
	}
	if s.replaced != job.GetResourceVersion() {
		delete(w.m, key)
		return false
	}
	s.waiting = true
	return true
}

// forget drops a deleted job.
func (w *writtenStatus) forget(key types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.m, key)
	delete(w.last, key)
}

// wakePredicate passes the update of a job a deferred reconcile waits for.
func (w *writtenStatus) wakePredicate() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			w.mu.Lock()
			defer w.mu.Unlock()
			s := w.m[client.ObjectKeyFromObject(e.ObjectNew)]
			return s != nil && s.waiting && s.replaced != e.ObjectNew.GetResourceVersion()
		},
	}
}
