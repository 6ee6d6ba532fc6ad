package deploy_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// componentInto builds the components (directories under deploy/) into
// namespace ns, as a namespace's kustomization includes them.
func componentInto(t *testing.T, ns string, components ...string) []*unstructured.Unstructured {
	t.Helper()
	fsys := filesys.MakeFsInMemory()
	var refs []string
	for _, src := range components {
		files, err := os.ReadDir(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(src, f.Name()))
			if err == nil {
				err = fsys.WriteFile("/deploy/"+src+"/"+f.Name(), b)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		refs = append(refs, "  - ../"+src+"\n")
	}
	k := fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: %s\ncomponents:\n%s", ns, strings.Join(refs, ""))
	if err := fsys.WriteFile("/deploy/test-namespace/kustomization.yaml", []byte(k)); err != nil {
		t.Fatal(err)
	}
	return buildFS(t, fsys, "/deploy/test-namespace")
}

// TestSupportingObjectsRBAC holds the opt-in supporting-objects component
// to least privilege: its rules are these, bound in the including
// namespace only, to sparkcd's service account; Secrets are never listed
// or watched; "bind" only names roles, and nothing may "escalate".
func TestSupportingObjectsRBAC(t *testing.T) {
	objs := componentInto(t, "spark-dev", "components/supporting-objects")
	want := normalize([]rule{
		{groups: []string{""}, resources: []string{"configmaps", "secrets", "serviceaccounts", "persistentvolumeclaims"}, verbs: []string{"get", "create", "patch", "delete"}},
		{groups: []string{"rbac.authorization.k8s.io"}, resources: []string{"roles", "rolebindings"}, verbs: []string{"get", "create", "patch", "delete"}},
		{groups: []string{"rbac.authorization.k8s.io"}, resources: []string{"roles"}, names: []string{"spark-driver"}, verbs: []string{"bind"}},
	})
	var kinds []string
	for _, u := range objs {
		kinds = append(kinds, describe(u))
		switch u.GetKind() {
		case "ClusterRole":
			got := rulesOf(typed(t, u).(*rbacv1.ClusterRole).Rules)
			if diff := cmp.Diff(want, got, cmp.Transformer("rules", func(rs []rule) []string {
				s := make([]string, len(rs))
				for i, r := range rs {
					s[i] = r.String()
				}
				return s
			})); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
			for _, r := range got {
				if slices.Contains(r.verbs, "escalate") || slices.Contains(r.verbs, "bind") && len(r.names) == 0 ||
					slices.Contains(r.resources, "secrets") && (slices.Contains(r.verbs, "list") || slices.Contains(r.verbs, "watch")) {
					t.Errorf("rule %s is more than least privilege", r)
				}
			}
		case "RoleBinding":
			b := typed(t, u).(*rbacv1.RoleBinding)
			if b.Namespace != "spark-dev" || b.RoleRef.Name != "sparkcd-supporting-objects" ||
				len(b.Subjects) != 1 || b.Subjects[0].Namespace != "sparkcd-system" || b.Subjects[0].Name != "sparkcd" {
				t.Errorf("binding %+v", b)
			}
		}
	}
	slices.Sort(kinds)
	if diff := cmp.Diff([]string{"ClusterRole sparkcd-supporting-objects", "RoleBinding spark-dev/sparkcd-supporting-objects"}, kinds); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
}

// supportingYAML is what a jobs repository ships beside its job: a
// ConfigMap, a Secret, a ServiceAccount bound to the spark-driver Role, and
// a Role stronger than sparkcd (it may deletecollection pods).
const supportingYAML = `apiVersion: v1
kind: ConfigMap
metadata:
  name: pi-conf
data:
  a: b
---
apiVersion: v1
kind: Secret
metadata:
  name: pi-creds
stringData:
  password: deploy-s3cret
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: pi
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: pi-driver
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: spark-driver
subjects:
- kind: ServiceAccount
  name: pi
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: too-strong
rules:
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["deletecollection"]
`

// TestSupportingObjectsUnderDeployedRBAC: under the default install the
// source loop applies the job and reports every supporting object as
// apply-refused; once the namespace includes the supporting-objects
// component, they are applied, except a Role stronger than sparkcd, which
// the API server refuses as an escalation.
func TestSupportingObjectsUnderDeployedRBAC(t *testing.T) {
	e := installed(t)
	ns := e.Namespace(t)
	apply(t, e, componentInto(t, ns, "components/spark-namespace"))
	runAsSparkcd(t, e, func(mgr manager.Manager) error {
		_, err := reconciler.NewSourceReconciler(mgr, reconciler.SourceOptions{CacheDir: t.TempDir()})
		return err
	})
	repo := gittest.NewRepo(t)
	repo.WriteFile(t, "jobs/pi.yaml", piJob)
	repo.WriteFile(t, "jobs/support.yaml", supportingYAML)
	commit := repo.CommitAndPush(t, "pi and its objects")
	srv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	src := &v1alpha1.JobSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "jobs"},
		Spec: v1alpha1.JobSourceSpec{URL: srv.URL(""), Path: "jobs", Prune: true,
			Interval: metav1.Duration{Duration: time.Hour}, Timeout: &metav1.Duration{Duration: 20 * time.Second}},
	}
	if err := e.Client.Create(t.Context(), src); err != nil {
		t.Fatal(err)
	}
	refused := waitRefused(t, e, src, commit, 5)
	if diff := cmp.Diff([]string{"pi-conf", "pi-creds", "pi", "pi-driver", "too-strong"}, refused, cmpSorted); diff != "" {
		t.Errorf("apply-refused (-want +got):\n%s", diff)
	}
	if got := sparkJobs(t, e, ns); !slices.Equal(got, []string{"pi"}) {
		t.Errorf("SparkJobs = %v", got)
	}

	apply(t, e, componentInto(t, ns, "components/supporting-objects"))
	if err := reconciler.RequestReconcile(t.Context(), e.Client, client.ObjectKeyFromObject(src), time.Now()); err != nil {
		t.Fatal(err)
	}
	refused = waitRefused(t, e, src, commit, 1)
	if diff := cmp.Diff([]string{"too-strong"}, refused); diff != "" {
		t.Errorf("apply-refused with the component (-want +got):\n%s", diff)
	}
	for _, c := range []struct {
		obj  client.Object
		name string
	}{{&corev1.ConfigMap{}, "pi-conf"}, {&corev1.Secret{}, "pi-creds"}, {&corev1.ServiceAccount{}, "pi"}, {&rbacv1.RoleBinding{}, "pi-driver"}} {
		if err := e.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: c.name}, c.obj); err != nil {
			t.Errorf("%T %s: %v", c.obj, c.name, err)
		}
	}
	if err := e.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "too-strong"}, &rbacv1.Role{}); !apierrors.IsNotFound(err) {
		t.Errorf("Role too-strong: %v, want not found", err)
	}
}

var cmpSorted = cmp.Transformer("sorted", func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s })

// waitRefused waits until the source, at commit, reports n apply-refused
// findings, and returns the names of the objects refused.
func waitRefused(t *testing.T, e *testenv.Env, src *v1alpha1.JobSource, commit string, n int) []string {
	t.Helper()
	var names []string
	eventually(t, fmt.Sprintf("%d objects refused at %s", n, commit), func() (bool, string) {
		got := &v1alpha1.JobSource{}
		if err := e.Client.Get(t.Context(), client.ObjectKeyFromObject(src), got); err != nil {
			return false, err.Error()
		}
		names = nil
		for _, j := range got.Status.Jobs {
			for _, f := range j.Findings {
				if f.Rule == reconciler.RuleApplyRefused {
					names = append(names, j.Name)
				}
			}
		}
		c := apimeta.FindStatusCondition(got.Status.Conditions, meta.ReadyCondition)
		return len(names) == n && strings.HasSuffix(got.Status.LastAppliedRevision, commit) && c != nil && c.ObservedGeneration == got.Generation,
			fmt.Sprintf("refused %v, status %+v", names, got.Status)
	})
	return names
}
