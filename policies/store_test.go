package policies

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// clusterPolicy is an Enforce policy with a maxExecutors rule over
// namespaces, as the API server would hold it.
func clusterPolicy(name string, maxExecutors int32, namespaces ...string) v1alpha1.AllocationPolicy {
	p := testPolicy(name, &v1alpha1.PolicyRules{MaxExecutors: ptr(maxExecutors)})
	p.Spec.Namespaces = namespaces
	p.Generation = 1
	return p
}

func mustStore(t *testing.T, seed []v1alpha1.AllocationPolicy, opts ...StoreOption) *Store {
	t.Helper()
	s, err := NewStore(seed, opts...)
	if err != nil {
		t.Fatalf("NewStore: %v", err)
	}
	return s
}

func mustUpdate(t *testing.T, s *Store, cluster ...v1alpha1.AllocationPolicy) ([]Verdict, bool) {
	t.Helper()
	verdicts, changed, err := s.Update(cluster)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	return verdicts, changed
}

// findingRules lists a job's findings as "severity policy/rule".
func findingRules(s *Store, job *v1alpha1.SparkJob) []string {
	_, findings := s.Apply(job)
	var out []string
	for _, f := range findings {
		out = append(out, string(f.Severity)+" "+f.Policy+"/"+f.Rule)
	}
	return out
}

func TestStoreMerge(t *testing.T) {
	seed := []v1alpha1.AllocationPolicy{clusterPolicy("a", 60)}
	s := mustStore(t, seed)
	verdicts, changed := mustUpdate(t, s, clusterPolicy("b", 5, "spark-*"), clusterPolicy("a", 1))
	if !changed {
		t.Error("changed = false, want true for a new cluster policy")
	}
	if got := []State{verdicts[0].State, verdicts[1].State}; !cmp.Equal(got, []State{InForce, Shadowed}) {
		t.Errorf("verdicts %v, want b in force and a shadowed", got)
	}
	if !strings.Contains(verdicts[1].Message, "--policies") {
		t.Errorf("shadowed message %q does not say what wins", verdicts[1].Message)
	}
	// The seed's a (60) judges, not the cluster's a (1); b refuses 10 > 5.
	if diff := cmp.Diff([]string{"error b/max-executors"}, findingRules(s, testJob())); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	var names []string
	for _, p := range s.Set().Policies() {
		names = append(names, fmt.Sprintf("%s:%d", p.Name, *p.Spec.Rules.MaxExecutors))
	}
	if diff := cmp.Diff([]string{"a:60", "b:5"}, names); diff != "" {
		t.Errorf("set (-want +got):\n%s", diff)
	}
	// Deleting b leaves the seed alone.
	mustUpdate(t, s)
	if got := findingRules(s, testJob()); len(got) != 0 {
		t.Errorf("findings %v after b is deleted, want none", got)
	}
}

func TestStoreVersion(t *testing.T) {
	s := mustStore(t, nil)
	v0 := s.Version()
	changedCh := s.Changed()
	_, changed := mustUpdate(t, s, clusterPolicy("b", 5), clusterPolicy("c", 7))
	v1 := s.Version()
	if !changed || v1 == v0 {
		t.Fatalf("a new policy: changed %v, version %s → %s; want a new version", changed, v0, v1)
	}
	select {
	case <-changedCh:
	default:
		t.Error("Changed was not closed by a change")
	}
	changedCh = s.Changed()
	// The same policies, listed in another order, with new metadata.
	c, b := clusterPolicy("c", 7), clusterPolicy("b", 5)
	c.Labels, c.ResourceVersion = map[string]string{"team": "data"}, "42"
	if _, changed := mustUpdate(t, s, c, b); changed || s.Version() != v1 {
		t.Errorf("same specs: changed %v, version %s → %s; want no change", changed, v1, s.Version())
	}
	select {
	case <-changedCh:
		t.Error("Changed was closed without a change")
	default:
	}
	b.Spec.Rules.MaxExecutors = ptr[int32](6)
	if _, changed := mustUpdate(t, s, c, b); !changed || s.Version() == v1 {
		t.Error("a spec change did not change the version")
	}
	b.Spec.Rules.MaxExecutors = ptr[int32](-1)
	v2 := s.Version()
	if _, changed := mustUpdate(t, s, c, b); !changed || s.Version() == v2 {
		t.Error("a policy turning invalid did not change the version")
	}
}

func TestStoreInvalid(t *testing.T) {
	invalid := func(name string, mutate func(*v1alpha1.AllocationPolicy)) v1alpha1.AllocationPolicy {
		p := clusterPolicy(name, -1, "spark-prod")
		mutate(&p)
		return p
	}
	tests := []struct {
		name   string
		policy v1alpha1.AllocationPolicy
		// want are the findings of a job in spark-prod and in team-data.
		wantProd, wantOther []string
		wantMessage         string
	}{{
		name:        "an Enforce policy refuses the jobs it selects",
		policy:      invalid("p", func(*v1alpha1.AllocationPolicy) {}),
		wantProd:    []string{"error p/invalid-policy"},
		wantMessage: "field 'spec.rules.maxExecutors': invalid value: -1 is negative",
	}, {
		name:        "an Audit policy warns",
		policy:      invalid("p", func(p *v1alpha1.AllocationPolicy) { p.Spec.Action = v1alpha1.Audit }),
		wantProd:    []string{"warning p/invalid-policy"},
		wantMessage: "warns about every job it selects",
	}, {
		name:        "an unreadable action refuses",
		policy:      invalid("p", func(p *v1alpha1.AllocationPolicy) { p.Spec.Action = "Warn" }),
		wantProd:    []string{"error p/invalid-policy"},
		wantMessage: "field 'spec.action'",
	}, {
		name: "a glob that does not parse selects every namespace",
		policy: invalid("p", func(p *v1alpha1.AllocationPolicy) {
			p.Spec.Namespaces = []string{"spark-["}
			p.Spec.Rules.MaxExecutors = ptr[int32](5)
		}),
		wantProd:    []string{"error p/invalid-policy"},
		wantOther:   []string{"error p/invalid-policy"},
		wantMessage: "field 'spec.namespaces[0]'",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustStore(t, nil)
			verdicts, _ := mustUpdate(t, s, tc.policy)
			if verdicts[0].State != Invalid || !strings.Contains(verdicts[0].Message, tc.wantMessage) {
				t.Errorf("verdict %+v, want Invalid saying %q", verdicts[0], tc.wantMessage)
			}
			if diff := cmp.Diff(tc.wantProd, findingRules(s, testJob())); diff != "" {
				t.Errorf("spark-prod findings (-want +got):\n%s", diff)
			}
			other := testJob(func(j *v1alpha1.SparkJob) { j.Namespace = "team-data" })
			if diff := cmp.Diff(tc.wantOther, findingRules(s, other)); diff != "" {
				t.Errorf("team-data findings (-want +got):\n%s", diff)
			}
			if n := len(s.Set().Policies()); n != 0 {
				t.Errorf("the set holds %d policies, want the invalid one left out", n)
			}
		})
	}
}

// TestStoreValidTurnsInvalid: a namespace whose policy breaks is never
// judged as if it had none.
func TestStoreValidTurnsInvalid(t *testing.T) {
	s := mustStore(t, nil)
	job := testJob(da(func(d *v1alpha1.DynamicAllocation) { d.MaxExecutors = ptr[int32](3) }))
	mustUpdate(t, s, clusterPolicy("p", 5, "spark-prod"))
	if got := findingRules(s, job); len(got) != 0 {
		t.Fatalf("findings %v under a valid policy, want none", got)
	}
	mustUpdate(t, s, clusterPolicy("p", -1, "spark-prod"))
	if diff := cmp.Diff([]string{"error p/invalid-policy"}, findingRules(s, job)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	mustUpdate(t, s, clusterPolicy("p", 5, "spark-prod"))
	if got := findingRules(s, job); len(got) != 0 {
		t.Errorf("findings %v once fixed, want none", got)
	}
}

func TestStoreSync(t *testing.T) {
	if _, err := NewStore([]v1alpha1.AllocationPolicy{clusterPolicy("a", -1)}); err == nil {
		t.Error("NewStore took an invalid seed")
	}
	s := mustStore(t, nil)
	select {
	case <-s.Synced():
	default:
		t.Error("a store without cluster policies is not synced at once")
	}

	s = mustStore(t, nil, WithClusterPolicies())
	select {
	case <-s.Synced():
		t.Fatal("a store of cluster policies is synced before its first Update")
	default:
	}
	if diff := cmp.Diff([]string{"error /policies-not-read"}, findingRules(s, testJob())); diff != "" {
		t.Errorf("findings before the first Update (-want +got):\n%s", diff)
	}
	v0 := s.Version()
	if _, changed := mustUpdate(t, s); !changed || s.Version() == v0 {
		t.Error("the first Update did not change the version")
	}
	select {
	case <-s.Synced():
	default:
		t.Error("the first Update did not close Synced")
	}
	if got := findingRules(s, testJob()); len(got) != 0 {
		t.Errorf("findings %v after the first Update, want none", got)
	}
}
