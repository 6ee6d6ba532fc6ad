package policies

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

func TestSelect(t *testing.T) {
	withNamespaces := func(name string, globs ...string) v1alpha1.AllocationPolicy {
		p := testPolicy(name, nil)
		p.Spec.Namespaces = globs
		return p
	}
	s := mustSet(t,
		withNamespaces("prod", "spark-prod", "team-*"),
		withNamespaces("all"),
		withNamespaces("dev", "spark-dev", "*-sandbox"),
		withNamespaces("letters", "spark-[a-c]?"),
	)
	tests := []struct {
		namespace string
		want      []string
	}{
		{"spark-prod", []string{"all", "prod"}},
		{"team-data", []string{"all", "prod"}},
		{"team-", []string{"all", "prod"}},
		{"spark-dev", []string{"all", "dev"}},
		{"alice-sandbox", []string{"all", "dev"}},
		{"spark-b1", []string{"all", "letters"}},
		{"spark-d1", []string{"all"}},
		{"spark-production", []string{"all"}},
		{"", []string{"all"}},
	}
	for _, tc := range tests {
		t.Run(tc.namespace, func(t *testing.T) {
			var got []string
			for _, p := range s.Select(tc.namespace) {
				got = append(got, p.Name)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("selected policies (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAuditAndEnforce(t *testing.T) {
	rules := &v1alpha1.PolicyRules{MaxExecutors: ptr[int32](5)}
	enforce := testPolicy("enforce", rules)
	audit := testPolicy("audit", rules)
	audit.Spec.Action = v1alpha1.Audit
	byDefault := testPolicy("default", rules)
	byDefault.Spec.Action = ""
	_, got := mustSet(t, enforce, audit, byDefault).Apply(testJob())
	finding := func(policy string, sev v1alpha1.Severity) v1alpha1.Finding {
		return v1alpha1.Finding{Severity: sev, Rule: RuleMaxExecutors, Field: "spec.dynamicAllocation.maxExecutors",
			Message: `maxExecutors is 10, policy "` + policy + `" allows at most 5`, Policy: policy}
	}
	want := []v1alpha1.Finding{
		finding("audit", v1alpha1.SeverityWarning),
		finding("default", v1alpha1.SeverityError),
		finding("enforce", v1alpha1.SeverityError),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

func TestApplyNil(t *testing.T) {
	var s *Set
	job := testJob()
	got, findings := s.Apply(job)
	if diff := cmp.Diff(job, got); diff != "" || findings != nil || got == job {
		t.Errorf("a nil Set should return a copy and no findings, got %v (-want +got):\n%s", findings, diff)
	}
	if got, findings := mustSet(t).Apply(nil); got != nil || findings != nil {
		t.Errorf("Apply(nil) = %v, %v; want nil, nil", got, findings)
	}
}

// badPolicy is a policy with empty rules, its spec then changed by m.
func badPolicy(name string, m func(*v1alpha1.AllocationPolicySpec)) v1alpha1.AllocationPolicy {
	p := testPolicy(name, &v1alpha1.PolicyRules{})
	m(&p.Spec)
	return p
}

// newSetErrorCase is one case of TestNewSetErrors.
type newSetErrorCase struct {
	name     string
	policies []v1alpha1.AllocationPolicy
	want     []string // each a substring of the error
	sentinel error
}

// newSetSpecErrorCases are policies with a taken name, a bad namespace
// glob, a bad action or allocation ratio.
func newSetSpecErrorCases() []newSetErrorCase {
	return []newSetErrorCase{{
		name:     "duplicate name",
		policies: []v1alpha1.AllocationPolicy{testPolicy("p", nil), testPolicy("p", nil)},
		want:     []string{"policy 'p': field 'metadata.name': duplicate policy name"},
		sentinel: ErrDuplicateName,
	}, {
		name: "bad glob",
		policies: []v1alpha1.AllocationPolicy{badPolicy("p", func(s *v1alpha1.AllocationPolicySpec) {
			s.Namespaces = []string{"spark-prod", "team-["}
		})},
		want:     []string{"policy 'p': field 'spec.namespaces[1]': invalid value: bad glob 'team-['"},
		sentinel: ErrInvalidValue,
	}, {
		name: "ratio min above max and a bad action",
		policies: []v1alpha1.AllocationPolicy{badPolicy("p", func(s *v1alpha1.AllocationPolicySpec) {
			s.Action = "Warn"
			s.Rules.ExecutorAllocationRatio = &v1alpha1.RatioRange{Min: "0.8", Max: "0.5"}
		})},
		want: []string{
			"policy 'p': field 'spec.action': invalid value: 'Warn' is neither 'Enforce' nor 'Audit'",
			"policy 'p': field 'spec.rules.executorAllocationRatio.min': invalid value: min 0.8 is above max 0.5",
		},
		sentinel: ErrInvalidValue,
	}, {
		name: "ratio out of range",
		policies: []v1alpha1.AllocationPolicy{badPolicy("p", func(s *v1alpha1.AllocationPolicySpec) {
			s.Rules.ExecutorAllocationRatio = &v1alpha1.RatioRange{Max: "1.5"}
		})},
		want:     []string{"field 'spec.rules.executorAllocationRatio.max': invalid value: ratio '1.5' is outside (0, 1]"},
		sentinel: ErrInvalidValue,
	}}
}

// newSetLimitErrorCases are rules and defaults that contradict themselves,
// and a policy without a name.
func newSetLimitErrorCases() []newSetErrorCase {
	return []newSetErrorCase{{
		name: "limits out of range",
		policies: []v1alpha1.AllocationPolicy{badPolicy("p", func(s *v1alpha1.AllocationPolicySpec) {
			s.Rules.MaxExecutors = ptr[int32](10)
			s.Rules.MaxInitialExecutors = ptr[int32](20)
			s.Rules.MaxDriverMemory = qty("0")
			s.Rules.MaxCachedExecutorIdleTimeout = dur("-1m")
			s.Rules.Placement = &v1alpha1.PlacementRules{Driver: &v1alpha1.PodPlacementRule{SameZoneAsDriver: true}}
		})},
		want: []string{
			"field 'spec.rules.maxInitialExecutors': invalid value: 20 is above maxExecutors 10",
			"field 'spec.rules.maxCachedExecutorIdleTimeout': invalid value: -1m0s is not a positive duration",
			"field 'spec.rules.maxDriverMemory': invalid value: 0 is not a positive quantity",
			"field 'spec.rules.placement.driver.sameZoneAsDriver': invalid value: applies to executors only",
		},
		sentinel: ErrInvalidValue,
	}, {
		name: "defaults that contradict each other",
		policies: []v1alpha1.AllocationPolicy{badPolicy("p", func(s *v1alpha1.AllocationPolicySpec) {
			s.Defaults = &v1alpha1.PolicyDefaults{
				DynamicAllocation: &v1alpha1.DynamicAllocation{MinExecutors: ptr[int32](5), MaxExecutors: ptr[int32](2)},
				SparkConf:         map[string]string{"spark.dynamicAllocation.maxExecutors": "3"},
				Executor:          &v1alpha1.PlacementDefaults{NodeSelector: map[string]string{"bad key!": "x"}},
			}
		})},
		want: []string{
			"field 'spec.defaults.dynamicAllocation.minExecutors': invalid value: 5 is above maxExecutors 2",
			`field 'spec.defaults.sparkConf["spark.dynamicAllocation.maxExecutors"]': invalid value: 'spark.dynamicAllocation.maxExecutors' is also set by spec.defaults.dynamicAllocation.maxExecutors`,
			`field 'spec.defaults.executor.nodeSelector["bad key!"]': invalid value: label key 'bad key!'`,
		},
		sentinel: ErrInvalidValue,
	}, {
		name:     "no name",
		policies: []v1alpha1.AllocationPolicy{testPolicy("", nil)},
		want:     []string{"field 'metadata.name': invalid value: a policy needs a name"},
		sentinel: ErrInvalidValue,
	}}
}

func TestNewSetErrors(t *testing.T) {
	for _, tc := range slices.Concat(newSetSpecErrorCases(), newSetLimitErrorCases()) {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSet(tc.policies)
			if err == nil {
				t.Fatal("NewSet succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !errors.Is(err, tc.sentinel) {
				t.Errorf("error %q is not %v", err, tc.sentinel)
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Errorf("error %q is not a *PolicyError", err)
			}
		})
	}
}
