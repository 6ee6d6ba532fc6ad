package policies

import (
	"path"
	"slices"
	"strings"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// Set is a validated set of policies, sorted by name, built once and used
// for many jobs. A Set is never modified after NewSet, so one Set may be
// used from many goroutines at once.
type Set struct {
	policies []*compiled
}

// compiled is one policy with what Apply needs worked out in advance.
type compiled struct {
	policy   *v1alpha1.AllocationPolicy
	name     string
	severity v1alpha1.Severity
	rules    v1alpha1.PolicyRules
	// ratioMin and ratioMax bound executorAllocationRatio when
	// rules.ExecutorAllocationRatio is set.
	ratioMin, ratioMax float64
	// driverLabels and executorLabels are the placement rules' required
	// node labels, in key order.
	driverLabels, executorLabels []nodeLabel
	// checks are the rules this policy has, in rule-id order.
	checks []*rule
}

// NewSet validates policies and builds a Set from deep copies of them. Every
// problem is reported, each as a *PolicyError naming the policy and the
// field, joined into one error. Names must be unique.
func NewSet(policies []v1alpha1.AllocationPolicy) (*Set, error) {
	var errs []*PolicyError
	seen := make(map[string]bool, len(policies))
	s := &Set{policies: make([]*compiled, 0, len(policies))}
	for i := range policies {
		p := policies[i].DeepCopy()
		if perrs := validatePolicy(p); len(perrs) > 0 {
			errs = append(errs, perrs...)
			continue
		}
		if seen[p.Name] {
			errs = append(errs, fieldError(p.Name, "metadata.name", ErrDuplicateName,
				"'%s' is given more than once", p.Name))
			continue
		}
		seen[p.Name] = true
		s.policies = append(s.policies, compile(p))
	}
	if err := joinPolicyErrors(errs); err != nil {
		return nil, err
	}
	slices.SortFunc(s.policies, func(a, b *compiled) int { return strings.Compare(a.name, b.name) })
	return s, nil
}

// compile works out a validated policy's severity, ratio bounds and rules.
func compile(p *v1alpha1.AllocationPolicy) *compiled {
	c := &compiled{policy: p, name: p.Name, severity: v1alpha1.SeverityError, ratioMax: 1}
	if p.Spec.Action == v1alpha1.Audit {
		c.severity = v1alpha1.SeverityWarning
	}
	if p.Spec.Rules != nil {
		c.rules = *p.Spec.Rules
	}
	if rr := c.rules.ExecutorAllocationRatio; rr != nil {
		// Both parse: validatePolicy checked them.
		if rr.Min != "" {
			c.ratioMin, _ = parseRatio(rr.Min)
		}
		if rr.Max != "" {
			c.ratioMax, _ = parseRatio(rr.Max)
		}
	}
	if pl := c.rules.Placement; pl != nil {
		if pl.Driver != nil {
			c.driverLabels = sortedLabels(pl.Driver.RequiredNodeLabels)
		}
		if pl.Executor != nil {
			c.executorLabels = sortedLabels(pl.Executor.RequiredNodeLabels)
		}
	}
	for i := range ruleTable {
		if ruleTable[i].has(c) {
			c.checks = append(c.checks, &ruleTable[i])
		}
	}
	return c
}

// Policies returns the policies of the set, sorted by name. They are the
// Set's own copies and must not be modified.
func (s *Set) Policies() []*v1alpha1.AllocationPolicy {
	out := make([]*v1alpha1.AllocationPolicy, len(s.policies))
	for i, c := range s.policies {
		out[i] = c.policy
	}
	return out
}

// Select returns the policies that select namespace, sorted by name. A
// policy selects a namespace when one of its spec.namespaces globs matches
// it (path.Match semantics: "*" does not cross a "/", which namespace
// names never hold), or when it lists no namespaces at all. The returned
// policies are the Set's own copies and must not be modified.
func (s *Set) Select(namespace string) []*v1alpha1.AllocationPolicy {
	if s == nil {
		return nil
	}
	var out []*v1alpha1.AllocationPolicy
	for _, c := range s.policies {
		if c.selects(namespace) {
			out = append(out, c.policy)
		}
	}
	return out
}

// selects reports whether the policy selects namespace.
func (c *compiled) selects(namespace string) bool {
	globs := c.policy.Spec.Namespaces
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		// The glob was validated, so Match cannot fail.
		if ok, _ := path.Match(g, namespace); ok {
			return true
		}
	}
	return false
}
