package deploy_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// access is one request a user makes: verb on resource (a "name/sub"
// resource is a subresource) in the test's namespace, or cluster-wide.
type access struct {
	verb, group, resource string
	clusterWide           bool
}

func (a access) String() string {
	s := a.verb + " " + strings.TrimSuffix(a.resource+"."+a.group, ".")
	if a.clusterWide {
		s += " (cluster-wide)"
	}
	return s
}

// cliAccess is what the sparkcd CLI asks of the API server for a data
// engineer: status (get, list, watch), run and reconcile (a patch of an
// annotation), suspend and resume (a patch of spec.suspend), logs (the
// driver pod and its log).
var (
	cliRead = []access{
		{verb: "get", group: "sparkcd.io", resource: "sparkjobs"}, {verb: "list", group: "sparkcd.io", resource: "sparkjobs"},
		{verb: "watch", group: "sparkcd.io", resource: "sparkjobs"}, {verb: "get", group: "sparkcd.io", resource: "jobsources"},
		{verb: "list", group: "sparkcd.io", resource: "jobsources"}, {verb: "watch", group: "sparkcd.io", resource: "jobsources"},
		{verb: "get", resource: "pods"}, {verb: "get", resource: "pods/log"},
		{verb: "get", group: "sparkcd.io", resource: "allocationpolicies", clusterWide: true},
	}
	cliWrite = []access{
		{verb: "patch", group: "sparkcd.io", resource: "sparkjobs"}, {verb: "patch", group: "sparkcd.io", resource: "jobsources"},
		{verb: "create", group: "sparkcd.io", resource: "jobsources"}, {verb: "update", group: "sparkcd.io", resource: "sparkjobs"},
		{verb: "delete", group: "sparkcd.io", resource: "sparkjobs"}, {verb: "delete", group: "sparkcd.io", resource: "jobsources"},
	}
	// Never a namespace role's: sparkcd's status, the platform team's
	// policies.
	noOnesButSparkcd = []access{
		{verb: "patch", group: "sparkcd.io", resource: "sparkjobs/status"},
		{verb: "patch", group: "sparkcd.io", resource: "jobsources/status"},
		{verb: "create", group: "sparkcd.io", resource: "allocationpolicies", clusterWide: true},
		{verb: "patch", group: "sparkcd.io", resource: "allocationpolicies", clusterWide: true},
	}
)

// TestAggregatedRoles binds users to Kubernetes' own view, edit and admin
// roles, filled by kube-controller-manager's ClusterRole aggregation from
// sparkcd-view and sparkcd-edit, and asks the API server what each may do
// with the sparkcd CLI: view reads and cannot start a run, edit and admin
// do everything the CLI does, and no one changes status or policies.
func TestAggregatedRoles(t *testing.T) {
	e := installed(t)
	for role, rs := range map[string][]string{"view": {"sparkjobs"}, "edit": {"sparkjobs"}, "admin": {"sparkjobs"}} {
		waitAggregated(t, e, role, rs)
	}
	ns := e.Namespace(t)
	viewer, editor, admin := bindRole(t, e, ns, "view"), bindRole(t, e, ns, "edit"), bindRole(t, e, ns, "admin")
	// The cluster-wide read of the policies is a ClusterRoleBinding of
	// view, as a platform team gives it to everyone.
	readPolicies(t, e, viewer)

	for user, want := range map[string]map[bool][]access{
		viewer: {true: cliRead, false: append(slices.Clone(cliWrite), noOnesButSparkcd...)},
		editor: {true: append(slices.Clone(cliRead[:8]), cliWrite...), false: noOnesButSparkcd},
		admin:  {true: append(slices.Clone(cliRead[:8]), cliWrite...), false: noOnesButSparkcd},
	} {
		for allowed, list := range want {
			for _, a := range list {
				if got := may(t, e, user, ns, a); got != allowed {
					t.Errorf("%s may %s: %t, want %t", user, a, got, allowed)
				}
			}
		}
	}

	// And for real: `sparkcd run` as the editor starts a run, as the
	// viewer it is refused.
	job := &v1alpha1.SparkJob{}
	if err := yaml.UnmarshalStrict([]byte(piJob), job); err != nil {
		t.Fatal(err)
	}
	job.Namespace = ns
	if err := e.Client.Create(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	key := types.NamespacedName{Namespace: ns, Name: job.Name}
	if err := reconciler.RequestRun(t.Context(), as(t, e, editor), key, time.Now()); err != nil {
		t.Errorf("sparkcd run as %s: %v", editor, err)
	}
	if err := reconciler.RequestRun(t.Context(), as(t, e, viewer), key, time.Now()); !apierrors.IsForbidden(err) {
		t.Errorf("sparkcd run as %s: %v, want Forbidden", viewer, err)
	}
}

// waitAggregated waits until the built-in ClusterRole role holds a rule
// on each of resources of sparkcd.io.
func waitAggregated(t *testing.T, e *testenv.Env, role string, resources []string) {
	t.Helper()
	eventually(t, "ClusterRole '"+role+"' aggregated", func() (bool, string) {
		cr := &rbacv1.ClusterRole{}
		if err := e.Client.Get(t.Context(), client.ObjectKey{Name: role}, cr); err != nil {
			return false, err.Error()
		}
		for _, res := range resources {
			if !slices.ContainsFunc(cr.Rules, func(r rbacv1.PolicyRule) bool {
				return slices.Contains(r.APIGroups, "sparkcd.io") && slices.Contains(r.Resources, res)
			}) {
				return false, fmt.Sprintf("no rule on %s.sparkcd.io in %d rules", res, len(cr.Rules))
			}
		}
		return true, ""
	})
}

// bindRole binds a new user to ClusterRole role in ns, and returns the
// user's name.
func bindRole(t *testing.T, e *testenv.Env, ns, role string) string {
	t.Helper()
	user := role + "-user@" + ns
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: role + "-user"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	if err := e.Client.Create(t.Context(), rb); err != nil {
		t.Fatal(err)
	}
	return user
}

// readPolicies binds user to view cluster-wide, for the policies only
// (a RoleBinding cannot grant a cluster-scoped object).
func readPolicies(t *testing.T, e *testenv.Env, user string) {
	t.Helper()
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "sparkcd-view-" + strings.NewReplacer("@", "-").Replace(user)},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "sparkcd-view"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	if err := e.Client.Create(t.Context(), crb); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Client.Delete(t.Context(), crb) })
}

// may asks the API server, with a SubjectAccessReview, whether user may
// make request a in ns.
func may(t *testing.T, e *testenv.Env, user, ns string, a access) bool {
	t.Helper()
	return review(t, e, user, nil, ns, a)
}

func review(t *testing.T, e *testenv.Env, user string, groups []string, ns string, a access) bool {
	t.Helper()
	resource, sub, _ := strings.Cut(a.resource, "/")
	attrs := &authorizationv1.ResourceAttributes{Verb: a.verb, Group: a.group, Resource: resource, Subresource: sub}
	if !a.clusterWide {
		attrs.Namespace = ns
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user, Groups: append(groups, "system:authenticated"), ResourceAttributes: attrs,
	}}
	if err := e.Client.Create(t.Context(), sar); err != nil {
		t.Fatal(err)
	}
	return sar.Status.Allowed
}

// checkSecretAccess asks whether service account user may get each
// Secret of ns, wanting the answers of want.
func checkSecretAccess(t *testing.T, e *testenv.Env, user, ns string, want map[string]bool) {
	t.Helper()
	saNS := strings.Split(user, ":")[2]
	groups := []string{"system:serviceaccounts", "system:serviceaccounts:" + saNS}
	for name, allowed := range want {
		attrs := &authorizationv1.ResourceAttributes{Verb: "get", Resource: "secrets", Namespace: ns, Name: name}
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: user, Groups: append(groups, "system:authenticated"), ResourceAttributes: attrs,
		}}
		if err := e.Client.Create(t.Context(), sar); err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed != allowed {
			t.Errorf("%s may get Secret '%s/%s': %t, want %t", user, ns, name, sar.Status.Allowed, allowed)
		}
	}
}

// as is a client impersonating user.
func as(t *testing.T, e *testenv.Env, user string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(e.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	c, err := client.New(cfg, client.Options{Scheme: e.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
