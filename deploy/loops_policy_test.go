package deploy_test

import (
	"context"
	"testing"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/policies"
	"github.com/sparkcd/sparkcd/reconciler"
)

// addPolicyLoop adds the policy loop and the job loop judging with its
// store, as serve does.
func addPolicyLoop(_ *testing.T, mgr manager.Manager, _ string) error {
	store, err := policies.NewStore(nil, policies.WithClusterPolicies())
	if err != nil {
		return err
	}
	if _, err := reconciler.NewPolicyReconciler(mgr, store); err != nil {
		return err
	}
	opts := reconciler.DefaultJobOptions()
	opts.Policies = store
	_, err = reconciler.NewJobReconciler(mgr, opts)
	return err
}

// exercisePolicyLoop creates a policy over ns and waits for the loop to
// report it in force in its status.
func exercisePolicyLoop(t *testing.T, e *testenv.Env, ns string) {
	ctx := context.Background()
	p := &v1alpha1.AllocationPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "rbac-" + ns},
		Spec: v1alpha1.AllocationPolicySpec{
			Namespaces: []string{ns},
			Rules:      &v1alpha1.PolicyRules{MaxExecutors: ptr.To[int32](10)},
		},
	}
	if err := e.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Client.Delete(context.Background(), p) })
	testenv.Eventually(t, waitTimeout, "the policy Ready", func() (bool, string) {
		if err := e.Client.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
			t.Fatal(err)
		}
		return apimeta.IsStatusConditionTrue(p.Status.Conditions, meta.ReadyCondition), "no Ready=True"
	})
}
