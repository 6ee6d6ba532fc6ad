package deploy_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// rule is one permission the install grants, with the code that needs it:
// a rule nothing uses is a rule to remove, and a verb a loop needs and no
// rule grants fails TestLoopsUnderDeployedRBAC.
type rule struct {
	groups, resources, names, verbs []string
	usedBy                          string
}

// wantRules are the roles of every kustomization, rule by rule.
var wantRules = map[string][]rule{
	"ClusterRole sparkcd": {
		{groups: []string{"sparkcd.io"}, resources: []string{"sparkjobs"}, verbs: []string{"get", "list", "watch", "create", "patch", "delete"},
			usedBy: "job loop: cache (get, list, watch); source loop: server-side apply (create, patch) and prune (delete)"},
		{groups: []string{"sparkcd.io"}, resources: []string{"sparkjobs/status"}, verbs: []string{"patch"},
			usedBy: "job loop: JobReconciler.patchStatus; cleanup: record"},
		{groups: []string{"sparkcd.io"}, resources: []string{"jobsources"}, verbs: []string{"get", "list", "watch", "patch"},
			usedBy: "source loop: cache, add and remove SourceFinalizer (patch); webhook: request a fetch now"},
		{groups: []string{"sparkcd.io"}, resources: []string{"jobsources/status"}, verbs: []string{"patch"},
			usedBy: "source loop: conditions, inventory, revisions"},
		{groups: []string{"sparkcd.io"}, resources: []string{"allocationpolicies"}, verbs: []string{"list", "watch"},
			usedBy: "policy loop: cache"},
		{groups: []string{"sparkcd.io"}, resources: []string{"allocationpolicies/status"}, verbs: []string{"patch"},
			usedBy: "policy loop: PolicyReconciler.patchStatus"},
		{groups: []string{""}, resources: []string{"pods"}, verbs: []string{"get", "list", "watch", "create", "patch", "delete"},
			usedBy: "job loop: createDriver (create), release the scheduling gate and mark a Kueue eviction (patch), apiReader.Get (get), pod cache (list, watch), deleteDriver (delete); source loop: orphan a driver on prune (patch); cleanup (list, delete)"},
		{groups: []string{""}, resources: []string{"pods/finalizers"}, verbs: []string{"update"},
			usedBy: "job loop: dependents' blockOwnerDeletion ownerReference to the driver, under OwnerReferencesPermissionEnforcement"},
		{groups: []string{""}, resources: []string{"configmaps", "services"}, verbs: []string{"get", "create"},
			usedBy: "job loop: createDependents (create), dependentsExist (get)"},
		{groups: []string{"networking.k8s.io"}, resources: []string{"ingresses"}, verbs: []string{"get", "create"},
			usedBy: "job loop: createDependents of a job with a sparkUIOptions ingress or driverIngressOptions"},
		{groups: []string{"policy"}, resources: []string{"poddisruptionbudgets"}, verbs: []string{"create"},
			usedBy: "job loop: createDependents of a job with driverPodDisruptionBudget"},
		{groups: []string{"kueue.x-k8s.io"}, resources: []string{"workloads"}, verbs: []string{"get", "list", "watch", "create", "patch", "delete"},
			usedBy: "job loop: createWorkload, followQueue (get, patch spec.active), dequeue (delete), the Workload watch (queue.go)"},
		{groups: []string{"kueue.x-k8s.io"}, resources: []string{"workloadpriorityclasses"}, verbs: []string{"get"},
			usedBy: "job loop: workloadPriority, a queued run's Workload priority (queue_priority.go)"},
		{groups: []string{"scheduling.k8s.io"}, resources: []string{"priorityclasses"}, verbs: []string{"get", "list"},
			usedBy: "job loop: workloadPriority, podPriority (get), the global default PriorityClass (list)"},
		{groups: []string{"scheduling.volcano.sh", "scheduling.x-k8s.io"}, resources: []string{"podgroups"}, verbs: []string{"create"},
			usedBy: "job loop: createDependents of a job with batchScheduler volcano or kube-scheduler"},
		{groups: []string{""}, resources: []string{"serviceaccounts"}, verbs: []string{"list", "watch"},
			usedBy: "job loop: WatchesMetadata(ServiceAccount), accessReview.check"},
		{groups: []string{""}, resources: []string{"serviceaccounts"}, verbs: []string{"impersonate"},
			usedBy: "source and job loops: identityClient, the writes of a JobSource with spec.serviceAccountName or serve --default-source-service-account"},
		{groups: []string{"authorization.k8s.io"}, resources: []string{"subjectaccessreviews"}, verbs: []string{"create"},
			usedBy: "job loop: accessReview.review1"},
		{groups: []string{"rbac.authorization.k8s.io"}, resources: []string{"rolebindings", "roles", "clusterrolebindings", "clusterroles"}, verbs: []string{"list", "watch"},
			usedBy: "job loop: accessReview.watch, metadata-only watches that wake the jobs waiting for their driver's access"},
		{groups: []string{""}, resources: []string{"namespaces"}, verbs: []string{"get", "list", "watch"},
			usedBy: "source loop: finalize, namespaceTerminating; job and source loops: watchRelabels (metadata-only watch of the enforce labels: list, watch), namespacePodSecurity (from that cache, get when it misses)"},
		{groups: []string{"events.k8s.io"}, resources: []string{"events"}, verbs: []string{"create", "patch"},
			usedBy: "job and source loops, cleanup: mgr.GetEventRecorder"},
		{groups: []string{""}, resources: []string{"events"}, verbs: []string{"create", "patch"},
			usedBy: "leader election: the Lease's events"},
	},
	"ClusterRole sparkcd-view": {
		{groups: []string{"sparkcd.io"}, resources: []string{"sparkjobs", "jobsources", "allocationpolicies"}, verbs: []string{"get", "list", "watch"},
			usedBy: "sparkcd status (get, list), status -w and run --wait (watch), kubectl get; aggregated into view, edit, admin"},
		{groups: []string{"sparkcd.io"}, resources: []string{"sparkjobs/status", "jobsources/status", "allocationpolicies/status"}, verbs: []string{"get"},
			usedBy: "kubectl get --subresource=status; aggregated into view, edit, admin"},
	},
	"ClusterRole sparkcd-edit": {
		{groups: []string{"sparkcd.io"}, resources: []string{"sparkjobs", "jobsources"}, verbs: []string{"create", "update", "patch", "delete", "deletecollection"},
			usedBy: "sparkcd run, reconcile, suspend, resume (patch); kubectl create, apply, edit, delete; aggregated into edit, admin"},
	},
	"Role sparkcd-system/sparkcd-leader-election": {
		{groups: []string{"coordination.k8s.io"}, resources: []string{"leases"}, verbs: []string{"create"},
			usedBy: "leader election: the first replica creates the Lease"},
		{groups: []string{"coordination.k8s.io"}, resources: []string{"leases"}, names: []string{"sparkcd-leader"}, verbs: []string{"get", "update"},
			usedBy: "leader election: acquire, renew and release"},
	},
	"ClusterRole sparkcd-cleanup": {
		{groups: []string{""}, resources: []string{"pods"}, verbs: []string{"list", "delete"},
			usedBy: "cronjobs.Cleanup: listDrivers (list), delete (delete)"},
		{groups: []string{"sparkcd.io"}, resources: []string{"sparkjobs"}, verbs: []string{"get", "list"},
			usedBy: "cronjobs.Cleanup: listJobs (list), record (get)"},
		{groups: []string{"sparkcd.io"}, resources: []string{"sparkjobs/status"}, verbs: []string{"patch"},
			usedBy: "cronjobs.Cleanup: record, the runs about to go into the history"},
		{groups: []string{"events.k8s.io"}, resources: []string{"events"}, verbs: []string{"create", "patch"},
			usedBy: "cronjobs.Cleanup: the DriversDeleted event, through an events.k8s.io broadcaster"},
	},
	"Role spark-dev/sparkcd-source-secrets": {
		{groups: []string{""}, resources: []string{"secrets"}, names: []string{"jobs-git"}, verbs: []string{"get"},
			usedBy: "source loop: SourceReconciler.getSecret, the Secrets a JobSource of the namespace names; webhook: spec.webhookSecretRef"},
	},
	"Role spark-dev/spark-driver": {
		{groups: []string{""}, resources: []string{"pods"}, verbs: []string{"get", "list", "watch", "create", "patch", "delete", "deletecollection"},
			usedBy: "Spark driver: ExecutorPodsAllocator (create), snapshot sources (list, watch), own pod as owner (get), decommission label (patch), executor removal (delete) and stop (deletecollection)"},
		{groups: []string{""}, resources: []string{"configmaps", "services", "persistentvolumeclaims"}, verbs: []string{"get", "list", "watch", "create", "delete", "deletecollection"},
			usedBy: "Spark driver: executor ConfigMap, on-demand PVCs (reuse lists them), and their deletion by label at stop"},
	},
}

// TestRBACLeastPrivilege compares every role of every kustomization with
// wantRules, and holds them to what least privilege means here: no
// wildcard, Secrets read only by name, nothing escalates, and the bindings
// name the roles and service accounts that exist.
func TestRBACLeastPrivilege(t *testing.T) {
	got := map[string][]rule{}
	for _, dir := range []string{"default", "cleanup-cronjob", "examples"} {
		objs := build(t, dir)
		for _, u := range objs {
			switch u.GetKind() {
			case "ClusterRole":
				got[describe(u)] = rulesOf(typed(t, u).(*rbacv1.ClusterRole).Rules)
			case "Role":
				got[describe(u)] = rulesOf(typed(t, u).(*rbacv1.Role).Rules)
			case "ClusterRoleBinding", "RoleBinding":
				checkBinding(t, objs, u)
			}
		}
	}
	noWhy := cmp.Transformer("rules", func(rs []rule) []string {
		s := make([]string, len(rs))
		for i, r := range rs {
			s[i] = r.String()
		}
		return s
	})
	want := map[string][]rule{}
	for k, rs := range wantRules {
		want[k] = normalize(rs)
	}
	if diff := cmp.Diff(want, got, noWhy); diff != "" {
		t.Errorf("roles (-want +got):\n%s", diff)
	}

	for role, rs := range got {
		for _, r := range rs {
			for _, s := range [][]string{r.groups, r.resources, r.verbs, r.names} {
				if slices.Contains(s, "*") {
					t.Errorf("%s: rule %s has a wildcard", role, r)
				}
			}
			if slices.Contains(r.resources, "secrets") && (!slices.Equal(r.verbs, []string{"get"}) || len(r.names) == 0) {
				t.Errorf("%s: rule %s does more with Secrets than get them by name", role, r)
			}
			for _, v := range []string{"escalate", "bind"} {
				if slices.Contains(r.verbs, v) {
					t.Errorf("%s: rule %s may %s", role, r, v)
				}
			}
			// Per-source identity impersonates service accounts, and only
			// them: never a user, a group or a uid, which could be an
			// administrator's.
			if slices.Contains(r.verbs, "impersonate") && (role != "ClusterRole sparkcd" ||
				!slices.Equal(r.groups, []string{""}) || !slices.Equal(r.resources, []string{"serviceaccounts"}) || len(r.verbs) != 1) {
				t.Errorf("%s: rule %s may impersonate more than service accounts", role, r)
			}
			// Watching roles is reading them, which changes nothing.
			readOnly := !slices.ContainsFunc(r.verbs, func(v string) bool { return v != "list" && v != "watch" })
			for _, res := range r.resources {
				if (strings.HasPrefix(res, "roles") || strings.HasPrefix(res, "clusterroles")) && !readOnly || res == "nodes" {
					t.Errorf("%s: rule %s reaches %s", role, r, res)
				}
			}
		}
	}
}

// checkBinding asserts a binding's role and service accounts are in the
// same build, in the namespace it says.
func checkBinding(t *testing.T, objs []*unstructured.Unstructured, u *unstructured.Unstructured) {
	t.Helper()
	var ref rbacv1.RoleRef
	var subjects []rbacv1.Subject
	switch b := typed(t, u).(type) {
	case *rbacv1.ClusterRoleBinding:
		ref, subjects = b.RoleRef, b.Subjects
	case *rbacv1.RoleBinding:
		ref, subjects = b.RoleRef, b.Subjects
	}
	has := func(kind, ns, name string) bool {
		for _, o := range objs {
			if o.GetKind() == kind && o.GetNamespace() == ns && o.GetName() == name {
				return true
			}
		}
		return false
	}
	roleNS := ""
	if ref.Kind == "Role" {
		roleNS = u.GetNamespace()
	}
	if !has(ref.Kind, roleNS, ref.Name) {
		t.Errorf("%s binds %s '%s', which the build does not hold", describe(u), ref.Kind, ref.Name)
	}
	for _, s := range subjects {
		// A namespace's components bind sparkcd's own account, which
		// deploy/default holds.
		installed := s.Namespace == "sparkcd-system" && s.Name == "sparkcd"
		if s.Kind != rbacv1.ServiceAccountKind || !has("ServiceAccount", s.Namespace, s.Name) && !installed {
			t.Errorf("%s binds %s '%s/%s', which the build does not hold", describe(u), s.Kind, s.Namespace, s.Name)
		}
	}
}

func rulesOf(rs []rbacv1.PolicyRule) []rule {
	out := make([]rule, len(rs))
	for i, r := range rs {
		if len(r.NonResourceURLs) > 0 {
			out[i].verbs = append(out[i].verbs, "nonResourceURLs:"+strings.Join(r.NonResourceURLs, ","))
		}
		out[i] = rule{groups: r.APIGroups, resources: r.Resources, names: r.ResourceNames, verbs: append(out[i].verbs, r.Verbs...)}
	}
	return normalize(out)
}

// normalize sorts each rule's lists and the rules, so the order they are
// written in does not matter.
func normalize(rs []rule) []rule {
	out := make([]rule, len(rs))
	for i, r := range rs {
		out[i] = rule{groups: sorted(r.groups), resources: sorted(r.resources), names: sorted(r.names), verbs: sorted(r.verbs), usedBy: r.usedBy}
	}
	slices.SortFunc(out, func(a, b rule) int { return strings.Compare(a.String(), b.String()) })
	return out
}

func sorted(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func (r rule) String() string {
	s := "groups=" + strings.Join(r.groups, ",") + " resources=" + strings.Join(r.resources, ",") + " verbs=" + strings.Join(r.verbs, ",")
	if len(r.names) > 0 {
		s += " names=" + strings.Join(r.names, ",")
	}
	return s
}
