package faults_test

import (
	"fmt"
	"sync"
	"testing"
)

// figures are what one case injected and checked. faults counts the faults
// injected; survived those after which every promise was checked and held;
// runs the runs checked for a second driver; duplicates the runs found with
// one; lost the objects (SparkJobs, runs, statuses, out-of-scope pods)
// that a fault made disappear.
type figures struct {
	name                                     string
	faults, survived, runs, duplicates, lost int
}

func (f *figures) add(o figures) {
	f.faults += o.faults
	f.survived += o.survived
	f.runs += o.runs
	f.duplicates += o.duplicates
	f.lost += o.lost
}

func (f figures) String() string {
	return fmt.Sprintf("FIGURES case=%s faults=%d survived=%d runs=%d duplicates=%d lost=%d",
		f.name, f.faults, f.survived, f.runs, f.duplicates, f.lost)
}

// suiteTotals adds up the figures of every case that ran.
type suiteTotals struct {
	mu    sync.Mutex
	cases int
	sum   figures
}

var totals = &suiteTotals{sum: figures{name: "total"}}

func (s *suiteTotals) print() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cases > 0 {
		fmt.Printf("%s cases=%d\n", s.sum, s.cases)
	}
}

// caseFigures returns the figures of the running case; they are logged and
// added to the totals when the case ends.
func caseFigures(t *testing.T, name string) *figures {
	f := &figures{name: name}
	t.Cleanup(func() {
		t.Log(f.String())
		totals.mu.Lock()
		totals.cases++
		totals.sum.add(*f)
		totals.mu.Unlock()
	})
	return f
}

// injected counts n faults injected.
func (f *figures) injected(n int) { f.faults += n }

// held counts n faults survived: every promise checked after them held.
func (f *figures) held(n int) { f.survived += n }
