package policies

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// State is what a Store made of one cluster policy.
type State string

// The states of a cluster policy.
const (
	// InForce: the policy is valid and judges the jobs it selects.
	InForce State = "InForce"
	// Invalid: the policy does not pass validation; it is left out of the
	// Set and refuses (or, Audit, warns about) every job it selects.
	Invalid State = "Invalid"
	// Shadowed: a seed policy has the same name and is in force instead.
	Shadowed State = "Shadowed"
)

// Verdict is what a Store made of one cluster policy, for its status.
type Verdict struct {
	State State
	// Message says why, naming the fields of an Invalid policy.
	Message string
}

// Update replaces the cluster's policies with cluster, every one of them:
// a policy missing from it is deleted. It returns a verdict per policy, in
// the order of cluster, and whether the set in force changed. The first
// Update closes Synced. An error leaves the set in force as it was.
func (s *Store) Update(cluster []v1alpha1.AllocationPolicy) ([]Verdict, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	verdicts := make([]Verdict, len(cluster))
	valid := slices.Clone(s.seed)
	var broken []brokenPolicy
	for _, i := range byName(cluster) {
		verdict, b := s.judge(&cluster[i])
		verdicts[i] = verdict
		switch {
		case b != nil:
			broken = append(broken, *b)
		case verdict.State == InForce:
			valid = append(valid, cluster[i])
		}
	}
	set, err := NewSet(valid)
	if err != nil {
		// Cannot happen: each policy passed validation on its own, and
		// a name is unique in the cluster and checked against the seed.
		return nil, false, fmt.Errorf("unable to build the policy set: %w", err)
	}
	next := newSnapshot(set, broken, true)
	prev := s.current.Load()
	changed := next.version != prev.version
	if changed {
		s.current.Store(next)
		ch := make(chan struct{})
		close(*s.changed.Swap(&ch))
	}
	if !prev.synced {
		close(s.synced)
	}
	return verdicts, changed, nil
}

// judge returns the verdict on one cluster policy, and the policy as a
// brokenPolicy when it is invalid.
func (s *Store) judge(p *v1alpha1.AllocationPolicy) (Verdict, *brokenPolicy) {
	if s.inSeed[p.Name] {
		return Verdict{State: Shadowed, Message: fmt.Sprintf(
			"the --policies files hold a policy named '%s', which is in force instead: rename this one", p.Name)}, nil
	}
	errs := validatePolicy(p)
	if len(errs) == 0 {
		return Verdict{State: InForce, Message: "in force"}, nil
	}
	b := &brokenPolicy{Name: p.Name, Namespaces: p.Spec.Namespaces, Severity: severityOf(p), Problems: problems(errs)}
	what := "refuses"
	if b.Severity == v1alpha1.SeverityWarning {
		what = "warns about"
	}
	return Verdict{State: Invalid, Message: fmt.Sprintf("%s; until it is fixed the policy %s every job it selects", b.Problems, what)}, b
}

// byName returns the indexes of policies in name order, so that the
// set's version does not depend on the order the cluster lists them in.
func byName(policies []v1alpha1.AllocationPolicy) []int {
	idx := make([]int, len(policies))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(policies[a].Name, policies[b].Name) })
	return idx
}
