package reconciler_test

import (
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/reconciler"
)

// TestRunAsSourceAccount: the runs of a SparkJob are created as the
// account the job loop is given (here the default account, for a job no
// source lists; TestSourceImpersonation covers a source's account). One
// that may not create pods gets no driver, and the job says which account
// may not do what; once a RoleBinding lets it, the run starts.
func TestRunAsSourceAccount(t *testing.T) {
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	ctx := t.Context()
	if err := e.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "runner"}}); err != nil {
		t.Fatal(err)
	}
	opts := reconciler.DefaultJobOptions()
	opts.Identity.DefaultServiceAccount = "runner"
	startLoop(t, e, opts, ns)
	// A copied annotation naming another account counts for nothing: the
	// account is the listing source's, or the default one.
	job := piJob(t, ns, "pi", func(j *v1alpha1.SparkJob) {
		j.Annotations = map[string]string{reconciler.AnnotationSourceServiceAccount: ns + "/default"}
	})
	if err := e.Client.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	want := "service account '" + ns + "/runner' may not create Pod"
	waitJob(t, e, ns, "pi", "the run refused to the account", func(j *v1alpha1.SparkJob) bool {
		c := apimeta.FindStatusCondition(j.Status.Conditions, meta.ReadyCondition)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == reconciler.ReasonImpersonationForbidden && strings.Contains(c.Message, want)
	})
	if got := drivers(t, e, ns, "pi"); len(got) > 0 {
		t.Fatalf("%d driver pods created for an account that may not create pods", len(got))
	}

	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "runner"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create", "patch", "delete"}},
		{APIGroups: []string{""}, Resources: []string{"configmaps", "services"}, Verbs: []string{"create"}},
	}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "runner"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "runner"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "runner"}}}
	for _, obj := range []client.Object{role, binding} {
		if err := e.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	// Wake the job now rather than at its next backoff.
	patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"example.com/granted":"yes"}}}`))
	if err := e.Client.Patch(ctx, &v1alpha1.SparkJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pi"}}, patch); err != nil {
		t.Fatal(err)
	}
	lastRunIn(t, e, ns, "pi", v1alpha1.RunPending)
	if got := drivers(t, e, ns, "pi"); len(got) != 1 {
		t.Errorf("%d driver pods, want 1", len(got))
	}
}
