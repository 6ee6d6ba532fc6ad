package reconciler_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// TestSourceImpersonationPrune: a source applies and prunes as its
// service account. A prune the account may not do is refused with
// ImpersonationForbidden, naming the account, the verb, the kind and the
// namespace; the job stays in the inventory, and the revision's other
// jobs are applied. Once the account may delete, the prune happens.
func TestSourceImpersonationPrune(t *testing.T) {
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	tenantRole(t, e, ns, "create", "patch")
	startSourceLoop(t, e, reconciler.SourceOptions{}, ns)
	repo := gittest.NewRepo(t)
	for _, name := range []string{"a", "b", "c"} {
		repo.WriteFile(t, "jobs/"+name+".yaml", jobYAML(t, name))
	}
	first := repo.CommitAndPush(t, "three jobs")
	srv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	newSource(t, e, ns, "jobs", srv.URL(""), func(s *v1alpha1.JobSource) { s.Spec.ServiceAccountName = "tenant" })
	waitSource(t, e, ns, "jobs", "applied as the tenant", func(s *v1alpha1.JobSource) bool {
		return sourceReady(s, metav1.ConditionTrue, meta.SucceededReason, first)
	})
	if got := getJob(t, e, ns, "a").Annotations[reconciler.AnnotationSourceServiceAccount]; got != ns+"/tenant" {
		t.Errorf("annotation %s = %q", reconciler.AnnotationSourceServiceAccount, got)
	}

	repo.Remove(t, "jobs/b.yaml")
	repo.WriteFile(t, "jobs/d.yaml", jobYAML(t, "d"))
	second := repo.CommitAndPush(t, "b goes, d comes")
	requestAndWait(t, e, ns, "jobs")
	src := waitSource(t, e, ns, "jobs", "the prune refused", func(s *v1alpha1.JobSource) bool {
		return sourceReady(s, metav1.ConditionFalse, reconciler.ReasonImpersonationForbidden, second)
	})
	msg := apimeta.FindStatusCondition(src.Status.Conditions, meta.ReadyCondition).Message
	if want := "service account '" + ns + "/tenant' may not delete SparkJob 'b' in namespace '" + ns + "'"; !strings.Contains(msg, want) {
		t.Errorf("Ready message %q does not say %q", msg, want)
	}
	if !slices.ContainsFunc(src.Status.Inventory, func(ref v1alpha1.InventoryRef) bool { return ref.Namespace == ns && ref.Name == "b" }) {
		t.Errorf("b left the inventory: %v", src.Status.Inventory)
	}
	if got := jobNames(t, e, ns); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Errorf("SparkJobs = %v, want a b c d", got)
	}

	tenantRole(t, e, ns, "create", "patch", "delete")
	requestAndWait(t, e, ns, "jobs")
	waitSource(t, e, ns, "jobs", "pruned once allowed", func(s *v1alpha1.JobSource) bool {
		return sourceReady(s, metav1.ConditionTrue, meta.SucceededReason, second)
	})
	eventually(t, "b pruned", func() (bool, string) {
		got := jobNames(t, e, ns)
		return slices.Equal(got, []string{"a", "c", "d"}), strings.Join(got, " ")
	})
}

// tenantRole gives the service account "tenant" of ns the verbs on
// SparkJobs, and what a run needs, replacing what it had.
func tenantRole(t *testing.T, e *testenv.Env, ns string, verbs ...string) {
	t.Helper()
	ctx := context.Background()
	objs := []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tenant"}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tenant"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"sparkjobs"}, Verbs: verbs},
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create", "patch", "delete"}},
			{APIGroups: []string{""}, Resources: []string{"configmaps", "services"}, Verbs: []string{"create"}},
		}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tenant"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "tenant"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "tenant"}}},
	}
	for _, obj := range objs {
		err := e.Client.Create(ctx, obj)
		if role, ok := obj.(*rbacv1.Role); ok && apierrors.IsAlreadyExists(err) {
			live := &rbacv1.Role{}
			if err = e.Client.Get(ctx, client.ObjectKeyFromObject(role), live); err == nil {
				live.Rules = role.Rules
				err = e.Client.Update(ctx, live)
			}
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("%T %s: %v", obj, obj.GetName(), err)
		}
	}
}
