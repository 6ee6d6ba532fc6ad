package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
)

// TestServeFollowsClusterPolicies: an AllocationPolicy created in the
// cluster changes the verdict of a running `sparkcd serve` on a job within
// 5 s, with no restart: the job is refused with the policy named; deleting
// the policy admits it again.
func TestServeFollowsClusterPolicies(t *testing.T) {
	e := env.Env(t)
	ns := e.Namespace(t)
	ctx := t.Context()
	if err := e.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, e, ns)
	if err := e.Client.Create(ctx, piJob(ns)); err != nil {
		t.Fatal(err)
	}
	waitDrivers(t, e, ns, 1, srv.logs)

	// The policy selects this test's namespace alone: other tests share the
	// cluster-scoped kind.
	small := resource.MustParse("100m")
	policy := &v1alpha1.AllocationPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "tiny-driver-" + ns},
		Spec: v1alpha1.AllocationPolicySpec{
			Namespaces: []string{ns}, Action: v1alpha1.Enforce,
			Rules: &v1alpha1.PolicyRules{MaxDriverCores: &small},
		},
	}
	if err := e.Client.Create(ctx, policy); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			p := &v1alpha1.AllocationPolicy{}
			_ = e.Client.Get(ctx, types.NamespacedName{Name: policy.Name}, p)
			t.Logf("policy status: %+v\nserve logs:\n%s", p.Status, srv.logs)
		}
		_ = e.Client.Delete(ctx, policy)
	})
	verdictWithin(t, e, ns, "refused by the new policy", func(j *v1alpha1.SparkJob) bool {
		c := apimeta.FindStatusCondition(j.Status.Conditions, meta.StalledCondition)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == "PolicyViolation" && strings.Contains(c.Message, policy.Name)
	})

	if err := e.Client.Delete(ctx, policy); err != nil {
		t.Fatal(err)
	}
	verdictWithin(t, e, ns, "admitted again once the policy is gone", func(j *v1alpha1.SparkJob) bool {
		return apimeta.FindStatusCondition(j.Status.Conditions, meta.StalledCondition) == nil
	})
}

// verdictWithin waits 5 s at most for the SparkJob pi to satisfy cond.
func verdictWithin(t *testing.T, e *testenv.Env, ns, what string, cond func(*v1alpha1.SparkJob) bool) {
	t.Helper()
	start := time.Now()
	testenv.Eventually(t, 5*time.Second, what, func() (bool, string) {
		j := &v1alpha1.SparkJob{}
		if err := e.Client.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: "pi"}, j); err != nil {
			return false, err.Error()
		}
		return cond(j), fmt.Sprint(j.Status.Conditions)
	})
	t.Logf("%s after %s", what, time.Since(start).Round(time.Millisecond))
}
