package admission

import (
	"crypto/sha256"
	"encoding/json"
	"slices"
	"sync"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// Memo remembers the verdicts of Job by the judged object's content, for
// callers that judge mostly the same jobs again with the same Options:
// `sparkcd diff` judges every job at both revisions, and a change of one
// job leaves the others' verdicts as they were. A Memo serves one set of
// Options (policies, targets, Pod Security level); Options.Decryption is
// not part of Job's verdict (Built adds it after) and may differ. Safe for
// concurrent use.
type Memo struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]Verdict
}

// NewMemo returns an empty Memo.
func NewMemo() *Memo { return &Memo{m: map[[sha256.Size]byte]Verdict{}} }

// job judges job as Job does, or returns a copy of the verdict an equal
// object had.
func (m *Memo) job(job *v1alpha1.SparkJob, opts Options) Verdict {
	b, err := json.Marshal(job)
	if err != nil {
		return Job(job, opts)
	}
	key := sha256.Sum256(b)
	m.mu.Lock()
	v, ok := m.m[key]
	m.mu.Unlock()
	if !ok {
		v = Job(job, opts)
		m.mu.Lock()
		m.m[key] = v
		m.mu.Unlock()
	}
	// Each caller owns what it gets: findings and job are copied.
	v.Findings = slices.Clone(v.Findings)
	v.Job = v.Job.DeepCopy()
	return v
}
