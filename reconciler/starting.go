package reconciler

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// maxStartingPerJob bounds what starting keeps of one job: the starts
// whose last step failed. A job starts one run at a time, and a run
// replaced before it was completed is forgotten with the oldest.
const maxStartingPerJob = 8

// starting remembers, for each run this process began to start and has
// not yet released, the admitted spec it was rendered from. A start that
// fails half-way — the driver created gated, its dependents not, because
// the API server or the connection to it failed — is finished by the
// next reconcile (complete). When the job's spec changed meanwhile, the
// run cannot be rendered from the job again; this process still can, from
// what it remembers, so the run starts as it was due instead of failing
// as Interrupted. Only a run begun by another process (a restart, a new
// leader) and left half-made is interrupted. Admitted specs are the
// verdict cache's: shared and never changed, so kept without a copy.
type starting struct {
	mu sync.Mutex
	m  map[types.NamespacedName][]startingRun
}

type startingRun struct {
	name, hash string
	admitted   *v1alpha1.SparkJob
}

func newStarting() *starting {
	return &starting{m: map[types.NamespacedName][]startingRun{}}
}

// remember records that run name of job is being started from admitted,
// whose spec hash is hash.
func (s *starting) remember(job types.NamespacedName, name, hash string, admitted *v1alpha1.SparkJob) {
	s.mu.Lock()
	defer s.mu.Unlock()
	runs := without(s.m[job], name)
	if len(runs) == maxStartingPerJob {
		runs = runs[1:]
	}
	s.m[job] = append(runs, startingRun{name: name, hash: hash, admitted: admitted})
}

// recall returns the admitted spec run name of job was being started
// from, when its spec hash is hash; nil when this process does not know.
func (s *starting) recall(job types.NamespacedName, name, hash string) *v1alpha1.SparkJob {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.m[job] {
		if r.name == name && r.hash == hash {
			return r.admitted
		}
	}
	return nil
}

// done forgets run name of job: it was released, or ended.
func (s *starting) done(job types.NamespacedName, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	runs := without(s.m[job], name)
	if len(runs) == 0 {
		delete(s.m, job)
		return
	}
	s.m[job] = runs
}

// forget drops every run of a deleted job.
func (s *starting) forget(job types.NamespacedName) {
	s.mu.Lock()
	delete(s.m, job)
	s.mu.Unlock()
}

// without returns runs without the run called name, in a new array when
// it was there.
func without(runs []startingRun, name string) []startingRun {
	for i, r := range runs {
		if r.name == name {
			return append(runs[:i:i], runs[i+1:]...)
		}
	}
	return runs
}
