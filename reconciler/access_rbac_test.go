package reconciler_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// accessDeadline is how soon after the RBAC that grants it a waiting job's
// run must start: well before the 30 seconds a denial is remembered.
const accessDeadline = 5 * time.Second

// TestDriverAccessRBAC: a job that waits for its driver's access starts
// its run within accessDeadline of the RBAC change that grants it, on a
// real clock, whichever object comes last.
func TestDriverAccessRBAC(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// before is what exists when the job is created, and reason why
		// the job then waits.
		before []func(ns string) client.Object
		reason string
		// grant is created, in order, once the job waits.
		grant []func(ns string) client.Object
	}{
		{
			name:   "role binding",
			before: objs(account),
			reason: reconciler.ReasonDriverForbidden,
			grant:  objs(role, roleBinding),
		},
		{
			name:   "role after its binding",
			before: objs(account, roleBinding),
			reason: reconciler.ReasonDriverForbidden,
			grant:  objs(role),
		},
		{
			// The case: kubectl apply of a namespace's directory
			// creates the binding a moment after the account.
			name:   "binding a moment after the account",
			reason: reconciler.ReasonServiceAccountNotFound,
			grant:  objs(account, role, roleBinding),
		},
		{
			name:   "cluster role binding",
			before: objs(account),
			reason: reconciler.ReasonDriverForbidden,
			grant:  objs(clusterRole, clusterRoleBinding),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := env.Env(t)
			ns := e.Namespace(t)
			create(t, e, ns, tt.before)
			startLoop(t, e, reconciler.JobOptions{}, ns)
			job := piJob(t, ns, "rbac")
			if err := e.Client.Create(context.Background(), job); err != nil {
				t.Fatal(err)
			}
			waitJob(t, e, ns, job.Name, tt.reason, func(j *v1alpha1.SparkJob) bool {
				return readyReason(t, j, tt.reason)
			})

			create(t, e, ns, tt.grant)
			granted := time.Now()
			testenv.Eventually(t, accessDeadline, "a driver pod within "+accessDeadline.String()+" of the grant", func() (bool, string) {
				n := len(drivers(t, e, ns, job.Name))
				return n > 0, fmt.Sprintf("%d driver pods %s after the grant; %s", n, time.Since(granted).Round(time.Millisecond), statusSummary(getJob(t, e, ns, job.Name)))
			})
			t.Logf("the driver pod exists %s after the grant", time.Since(granted).Round(time.Millisecond))
		})
	}
}

func objs(fs ...func(ns string) client.Object) []func(ns string) client.Object { return fs }

// create creates the objects in order; cluster-scoped ones are deleted
// when the test ends.
func create(t *testing.T, e *testenv.Env, ns string, objs []func(ns string) client.Object) {
	t.Helper()
	for _, f := range objs {
		obj := f(ns)
		if err := e.Client.Create(context.Background(), obj); err != nil {
			t.Fatalf("create %T '%s': %v", obj, obj.GetName(), err)
		}
		if obj.GetNamespace() == "" {
			t.Cleanup(func() { _ = e.Client.Delete(context.Background(), obj) })
		}
	}
}

// The driver's service account "spark" of piJob, and RBAC that lets it do
// what a Spark driver does, in a namespace or through the cluster.
func account(ns string) client.Object {
	return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "spark", Namespace: ns}}
}

var driverRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"pods", "services", "configmaps", "persistentvolumeclaims"}, Verbs: []string{"*"}},
}

func role(ns string) client.Object {
	return &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "spark-driver", Namespace: ns}, Rules: driverRules}
}

func roleBinding(ns string) client.Object {
	return &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "spark-driver", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "spark-driver"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "spark", Namespace: ns}},
	}
}

func clusterRole(ns string) client.Object {
	return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "spark-driver-" + ns}, Rules: driverRules}
}

func clusterRoleBinding(ns string) client.Object {
	return &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "spark-driver-" + ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "spark-driver-" + ns},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "spark", Namespace: ns}},
	}
}
