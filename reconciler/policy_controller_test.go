package reconciler_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/policies"
	"github.com/sparkcd/sparkcd/reconciler"
)

// rejudgeTimeout is how soon both loops judge again after a policy
// changes in the cluster.
const rejudgeTimeout = 5 * time.Second

// startPolicyLoops starts the policy loop and the job loop on ns, both
// judging with one store seeded by seed, and the source loop when asked.
// Every test's policy loop sees every AllocationPolicy of the cluster:
// each test's policies select only its own namespace.
func startPolicyLoops(t testing.TB, e *testenv.Env, ns string, withSources bool, seed ...v1alpha1.AllocationPolicy) {
	t.Helper()
	store, err := policies.NewStore(seed, policies.WithClusterPolicies())
	if err != nil {
		t.Fatal(err)
	}
	mgr, _ := jobLoopManager(t, e, reconciler.JobOptions{Policies: store}, []string{ns})
	if _, err := reconciler.NewPolicyReconciler(mgr, store); err != nil {
		t.Fatal(err)
	}
	if withSources {
		opts := reconciler.SourceOptions{Policies: store, CacheDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)}
		if _, err := reconciler.NewSourceReconciler(mgr, opts); err != nil {
			t.Fatal(err)
		}
	}
	runManager(t, mgr)
}

// maxExecutorsPolicy is an Enforce policy over ns alone that allows at most
// n executors (testdata/pi.yaml asks for 2).
func maxExecutorsPolicy(ns string, n int32) *v1alpha1.AllocationPolicy {
	return &v1alpha1.AllocationPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "max-executors-" + ns},
		Spec: v1alpha1.AllocationPolicySpec{
			Namespaces: []string{ns},
			Action:     v1alpha1.Enforce,
			Rules:      &v1alpha1.PolicyRules{MaxExecutors: &n},
		},
	}
}

// createPolicy creates a cluster policy, deleted when the test ends.
func createPolicy(t testing.TB, e *testenv.Env, p *v1alpha1.AllocationPolicy) {
	t.Helper()
	if err := e.Client.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deletePolicy(t, e, p.Name) })
}

func deletePolicy(t testing.TB, e *testenv.Env, name string) {
	t.Helper()
	p := &v1alpha1.AllocationPolicy{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := e.Client.Delete(context.Background(), p); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("delete AllocationPolicy '%s': %v", name, err)
	}
}

// updatePolicy changes a cluster policy's spec.
func updatePolicy(t testing.TB, e *testenv.Env, name string, mutate func(*v1alpha1.AllocationPolicy)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p := &v1alpha1.AllocationPolicy{}
		if err := e.Client.Get(context.Background(), types.NamespacedName{Name: name}, p); err != nil {
			return err
		}
		mutate(p)
		return e.Client.Update(context.Background(), p)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitPolicy waits until the policy's Ready condition, at its generation,
// has status and reason, and returns it.
func waitPolicy(t testing.TB, e *testenv.Env, name string, status metav1.ConditionStatus, reason string) *v1alpha1.AllocationPolicy {
	t.Helper()
	p := &v1alpha1.AllocationPolicy{}
	eventually(t, "AllocationPolicy Ready="+string(status)+" "+reason, func() (bool, string) {
		if err := e.Client.Get(context.Background(), types.NamespacedName{Name: name}, p); err != nil {
			t.Fatal(err)
		}
		c := apimeta.FindStatusCondition(p.Status.Conditions, meta.ReadyCondition)
		b, _ := yaml.Marshal(p.Status)
		return c != nil && c.Status == status && c.Reason == reason && c.ObservedGeneration == p.Generation &&
			p.Status.ObservedGeneration == p.Generation, "status:\n" + string(b)
	})
	return p
}

// rejudged waits, rejudgeTimeout at most, until the job satisfies cond.
func rejudged(t testing.TB, e *testenv.Env, ns, name, what string, cond func(*v1alpha1.SparkJob) bool) *v1alpha1.SparkJob {
	t.Helper()
	start := time.Now()
	var job *v1alpha1.SparkJob
	testenv.Eventually(t, rejudgeTimeout, what, func() (bool, string) {
		job = getJob(t, e, ns, name)
		return cond(job), statusSummary(job)
	})
	t.Logf("%s after %s", what, time.Since(start).Round(time.Millisecond))
	return job
}

// refusedBy reports a job Stalled by a policy violation whose message holds
// want.
func refusedBy(t testing.TB, want string) func(*v1alpha1.SparkJob) bool {
	return func(j *v1alpha1.SparkJob) bool {
		c := apimeta.FindStatusCondition(j.Status.Conditions, meta.StalledCondition)
		return readyReason(t, j, reconciler.ReasonPolicyViolation) && c != nil && strings.Contains(c.Message, want)
	}
}

// admittedPending reports a job admitted, its run pending.
func admittedPending(testing.TB) func(*v1alpha1.SparkJob) bool {
	return func(j *v1alpha1.SparkJob) bool {
		c := apimeta.FindStatusCondition(j.Status.Conditions, meta.ReconcilingCondition)
		return c != nil && c.Reason == reconciler.ReasonRunPending &&
			apimeta.FindStatusCondition(j.Status.Conditions, meta.StalledCondition) == nil
	}
}

// TestClusterPolicies: a policy created, fixed, tightened and deleted in
// the cluster judges a job within seconds, without a restart.
func TestClusterPolicies(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	startPolicyLoops(t, e, ns, false)
	if err := e.Client.Create(context.Background(), piJob(t, ns, "pi")); err != nil {
		t.Fatal(err)
	}
	lastRunIn(t, e, ns, "pi", v1alpha1.RunPending)

	p := maxExecutorsPolicy(ns, 1)
	createPolicy(t, e, p)
	rejudged(t, e, ns, "pi", "refused by the new policy", refusedBy(t, "policy '"+p.Name+"', rule 'max-executors'"))
	waitPolicy(t, e, p.Name, metav1.ConditionTrue, meta.SucceededReason)

	updatePolicy(t, e, p.Name, func(p *v1alpha1.AllocationPolicy) { p.Spec.Rules.MaxExecutors = ptr.To[int32](10) })
	rejudged(t, e, ns, "pi", "admitted by the fixed policy", admittedPending(t))

	updatePolicy(t, e, p.Name, func(p *v1alpha1.AllocationPolicy) { p.Spec.Rules.MaxExecutors = ptr.To[int32](1) })
	rejudged(t, e, ns, "pi", "refused again", refusedBy(t, "policy '"+p.Name+"'"))

	deletePolicy(t, e, p.Name)
	rejudged(t, e, ns, "pi", "admitted once the policy is deleted", admittedPending(t))
	if n := len(drivers(t, e, ns, "pi")); n != 1 {
		t.Errorf("%d drivers, want the first run's only: the spec never changed", n)
	}
}

// TestClusterPolicyInvalid: a policy that turns invalid is Ready=False,
// naming the field, and refuses the jobs it selects, old and new, until it
// is fixed: a namespace that had a policy is never judged as if it had
// none.
func TestClusterPolicyInvalid(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	startPolicyLoops(t, e, ns, false)
	p := maxExecutorsPolicy(ns, 10)
	createPolicy(t, e, p)
	waitPolicy(t, e, p.Name, metav1.ConditionTrue, meta.SucceededReason)
	if err := e.Client.Create(context.Background(), piJob(t, ns, "pi")); err != nil {
		t.Fatal(err)
	}
	lastRunIn(t, e, ns, "pi", v1alpha1.RunPending)

	updatePolicy(t, e, p.Name, func(p *v1alpha1.AllocationPolicy) { p.Spec.Rules.MaxExecutors = ptr.To[int32](-1) })
	rejudged(t, e, ns, "pi", "refused by the invalid policy", refusedBy(t, "rule 'invalid-policy'"))
	got := waitPolicy(t, e, p.Name, metav1.ConditionFalse, reconciler.ReasonInvalidPolicy)
	ready := apimeta.FindStatusCondition(got.Status.Conditions, meta.ReadyCondition)
	if !strings.Contains(ready.Message, "field 'spec.rules.maxExecutors'") {
		t.Errorf("Ready message %q does not name the field", ready.Message)
	}
	if !apimeta.IsStatusConditionTrue(got.Status.Conditions, meta.StalledCondition) {
		t.Errorf("conditions %+v, want Stalled", got.Status.Conditions)
	}

	if err := e.Client.Create(context.Background(), piJob(t, ns, "new")); err != nil {
		t.Fatal(err)
	}
	waitJob(t, e, ns, "new", "a new job refused", refusedBy(t, "rule 'invalid-policy'"))
	if n := len(drivers(t, e, ns, "new")); n != 0 {
		t.Errorf("%d drivers of a job the invalid policy selects, want none", n)
	}

	updatePolicy(t, e, p.Name, func(p *v1alpha1.AllocationPolicy) { p.Spec.Rules.MaxExecutors = ptr.To[int32](10) })
	waitPolicy(t, e, p.Name, metav1.ConditionTrue, meta.SucceededReason)
	rejudged(t, e, ns, "new", "the new job admitted once the policy is fixed", admittedPending(t))
}

// TestClusterPolicyShadowed: a cluster policy named like a seed policy is
// Ready=False, Shadowed, and the seed judges. Not parallel: every running
// policy loop writes every policy's status, and only this one has a seed.
func TestClusterPolicyShadowed(t *testing.T) {
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	seed := maxExecutorsPolicy(ns, 1)
	startPolicyLoops(t, e, ns, false, *seed)
	createPolicy(t, e, maxExecutorsPolicy(ns, 10))
	got := waitPolicy(t, e, seed.Name, metav1.ConditionFalse, reconciler.ReasonShadowed)
	if c := apimeta.FindStatusCondition(got.Status.Conditions, meta.ReadyCondition); !strings.Contains(c.Message, "--policies") {
		t.Errorf("Ready message %q does not say what is in force", c.Message)
	}
	if err := e.Client.Create(context.Background(), piJob(t, ns, "pi")); err != nil {
		t.Fatal(err)
	}
	waitJob(t, e, ns, "pi", "refused by the seed", refusedBy(t, "policy '"+seed.Name+"'"))
}

// TestClusterPolicySource: the source loop judges its rendered jobs again
// when a policy changes, though neither the revision nor the JobSource
// did.
func TestClusterPolicySource(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	p := maxExecutorsPolicy(ns, 1)
	createPolicy(t, e, p)
	startPolicyLoops(t, e, ns, true)
	waitPolicy(t, e, p.Name, metav1.ConditionTrue, meta.SucceededReason)

	repo := gittest.NewRepo(t)
	repo.WriteFile(t, "jobs/a.yaml", jobYAML(t, "a"))
	commit := repo.CommitAndPush(t, "job a")
	srv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	newSource(t, e, ns, "jobs", srv.URL(""))
	// Its only job rejected, the source delivers nothing: Stalled.
	waitSource(t, e, ns, "jobs", "job a rejected", func(s *v1alpha1.JobSource) bool {
		return sourceReady(s, metav1.ConditionFalse, reconciler.ReasonJobsRejected, commit)
	})
	if names := jobNames(t, e, ns); len(names) != 0 {
		t.Fatalf("jobs %v applied, want none", names)
	}

	updatePolicy(t, e, p.Name, func(p *v1alpha1.AllocationPolicy) { p.Spec.Rules.MaxExecutors = ptr.To[int32](10) })
	start := time.Now()
	testenv.Eventually(t, rejudgeTimeout, "job a applied", func() (bool, string) {
		names := jobNames(t, e, ns)
		return slices.Contains(names, "a"), strings.Join(names, ",")
	})
	t.Logf("job a applied after %s", time.Since(start).Round(time.Millisecond))
}
