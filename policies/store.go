package policies

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// Rules of the findings a Store adds to its policies' own.
const (
	// RuleInvalidPolicy: a policy in the cluster that selects the job does
	// not pass validation. It judges nothing, so it refuses (Enforce) or
	// warns about (Audit) every job it selects until it is fixed.
	RuleInvalidPolicy = "invalid-policy"
	// RulePoliciesNotRead: the store has not read the cluster's policies
	// yet, so it cannot judge a job.
	RulePoliciesNotRead = "policies-not-read"
)

// maxErrorsInMessage bounds how many problems of an invalid policy a
// finding lists.
const maxErrorsInMessage = 3

// Store holds the policy set in force while sparkcd runs: a read-only seed
// (the --policies files) merged with the AllocationPolicies of the cluster,
// which Update replaces whenever they change. Apply and Version read an
// immutable snapshot through an atomic pointer, so jobs are judged from
// any number of goroutines while Update builds the next one.
//
// Precedence: a seed policy wins over a cluster policy of the same name;
// the cluster one judges nothing and its verdict is Shadowed. The files are
// what the platform team installs with sparkcd, and a cluster object must
// not be able to quietly replace the policy the install enforces.
//
// Invalid cluster policies fail closed: a policy that does not pass
// validation is left out of the Set, and every job it selects gets an
// invalid-policy finding — an error for an Enforce policy (or one whose
// action cannot be read), a warning for an Audit one — until it is fixed
// or deleted. A namespace that had a policy is never judged as if it had
// none, and the verdict does not depend on what the process saw before a
// restart, as keeping a last valid version would.
type Store struct {
	seed    []v1alpha1.AllocationPolicy
	inSeed  map[string]bool
	mu      sync.Mutex // serialises Update
	current atomic.Pointer[snapshot]
	synced  chan struct{}
	// changed is closed, and replaced, whenever the snapshot is.
	changed atomic.Pointer[chan struct{}]
}

// snapshot is one policy set in force; never modified once stored.
type snapshot struct {
	set     *Set
	broken  []brokenPolicy
	synced  bool
	version string
}

// brokenPolicy is an invalid cluster policy, kept to judge the jobs it
// selects.
type brokenPolicy struct {
	Name       string            `json:"name"`
	Namespaces []string          `json:"namespaces,omitempty"`
	Severity   v1alpha1.Severity `json:"severity"`
	Problems   string            `json:"problems"`
}

// StoreOption configures a Store.
type StoreOption func(*storeOptions)

type storeOptions struct {
	cluster bool
}

// WithClusterPolicies makes the store wait for the cluster's
// AllocationPolicies: until the first Update, Synced stays open and Apply
// refuses every job, so that no job is admitted by the seed alone while a
// cluster policy would refuse it.
func WithClusterPolicies() StoreOption {
	return func(o *storeOptions) { o.cluster = true }
}

// NewStore returns a store whose set in force is seed, validated as NewSet
// does: an invalid seed policy is an error, as it is for Load.
func NewStore(seed []v1alpha1.AllocationPolicy, opts ...StoreOption) (*Store, error) {
	var o storeOptions
	for _, opt := range opts {
		opt(&o)
	}
	set, err := NewSet(seed)
	if err != nil {
		return nil, err
	}
	s := &Store{
		inSeed: make(map[string]bool, len(seed)),
		synced: make(chan struct{}),
	}
	for _, p := range set.Policies() {
		s.seed = append(s.seed, *p)
		s.inSeed[p.Name] = true
	}
	ch := make(chan struct{})
	s.changed.Store(&ch)
	s.current.Store(newSnapshot(set, nil, !o.cluster))
	if !o.cluster {
		close(s.synced)
	}
	return s, nil
}

// Apply judges job with the set in force, as Set.Apply does, and adds a
// finding for every invalid cluster policy that selects the job. Before
// the cluster's policies are read, every job is refused.
func (s *Store) Apply(job *v1alpha1.SparkJob) (*v1alpha1.SparkJob, []v1alpha1.Finding) {
	if job == nil {
		return nil, nil
	}
	snap := s.current.Load()
	if !snap.synced {
		return job.DeepCopy(), []v1alpha1.Finding{{
			Severity: v1alpha1.SeverityError,
			Rule:     RulePoliciesNotRead,
			Message:  "the cluster's AllocationPolicies are not read yet",
		}}
	}
	out, findings := snap.set.Apply(job)
	for i := range snap.broken {
		b := &snap.broken[i]
		if b.selects(job.Namespace) {
			findings = append(findings, v1alpha1.Finding{
				Severity: b.Severity,
				Rule:     RuleInvalidPolicy,
				Message:  "the policy is invalid and judges nothing until it is fixed: " + b.Problems,
				Policy:   b.Name,
			})
		}
	}
	return out, findings
}

// Version identifies the set in force: it changes whenever a policy's
// spec, its validity or its precedence does, and only then.
func (s *Store) Version() string { return s.current.Load().version }

// Set is the set of valid policies in force.
func (s *Store) Set() *Set { return s.current.Load().set }

// Synced is closed once the store holds the cluster's policies (at once
// without WithClusterPolicies).
func (s *Store) Synced() <-chan struct{} { return s.synced }

// Changed is closed when the set in force is replaced. Take the next one
// before acting on a change, so a change made meanwhile is not missed.
func (s *Store) Changed() <-chan struct{} { return *s.changed.Load() }

// newSnapshot builds a snapshot and its version.
func newSnapshot(set *Set, broken []brokenPolicy, synced bool) *snapshot {
	type entry struct {
		Name string                        `json:"name"`
		Spec v1alpha1.AllocationPolicySpec `json:"spec"`
	}
	key := struct {
		Synced bool           `json:"synced"`
		Valid  []entry        `json:"valid"`
		Broken []brokenPolicy `json:"broken"`
	}{Synced: synced, Broken: broken}
	for _, p := range set.Policies() {
		key.Valid = append(key.Valid, entry{Name: p.Name, Spec: p.Spec})
	}
	// The spec types marshal without error; maps are marshalled sorted.
	b, _ := json.Marshal(key)
	sum := sha256.Sum256(b)
	return &snapshot{set: set, broken: broken, synced: synced, version: hex.EncodeToString(sum[:16])}
}

// selects reports whether an invalid policy selects namespace. A glob that
// does not parse selects every namespace: the policy's reach is unknown,
// and failing closed beats admitting what it meant to refuse.
func (b *brokenPolicy) selects(namespace string) bool {
	if len(b.Namespaces) == 0 {
		return true
	}
	for _, g := range b.Namespaces {
		ok, err := path.Match(g, namespace)
		if ok || err != nil {
			return true
		}
	}
	return false
}

// problems describes a policy's errors in one line, naming each field.
func problems(errs []*PolicyError) string {
	var parts []string
	for i, e := range errs {
		if i == maxErrorsInMessage {
			parts = append(parts, fmt.Sprintf("and %d more", len(errs)-i))
			break
		}
		msg := e.Err.Error()
		if e.Field != "" {
			msg = fmt.Sprintf("field '%s': %s", e.Field, msg)
		}
		parts = append(parts, msg)
	}
	return strings.Join(parts, "; ")
}

// severityOf is how an invalid policy's finding counts: a warning only
// when the policy says Audit.
func severityOf(p *v1alpha1.AllocationPolicy) v1alpha1.Severity {
	if p.Spec.Action == v1alpha1.Audit {
		return v1alpha1.SeverityWarning
	}
	return v1alpha1.SeverityError
}

// Select returns the policies in force that select namespace, as
// Set.Select does; admission reads their spec.podSecurity.
func (s *Store) Select(namespace string) []*v1alpha1.AllocationPolicy {
	if set := s.current.Load().set; set != nil {
		return set.Select(namespace)
	}
	return nil
}
