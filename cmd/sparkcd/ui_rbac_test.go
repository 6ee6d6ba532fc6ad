package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/sparkcd/sparkcd/internal/testenv"
)

// viewerKubeconfig writes a kubeconfig that impersonates user, as a
// person's own kubeconfig would authenticate as them.
func viewerKubeconfig(t *testing.T, e *testenv.Env, user string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(e.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range cfg.AuthInfos {
		a.Impersonate = user
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestUIViewerRBAC runs `sparkcd ui` as a user who may only get, list and
// watch in one namespace: the view works there with nothing more (it never
// writes), and other namespaces are refused as forbidden.
func TestUIViewerRBAC(t *testing.T) {
	e := env.Env(t)
	ns := e.Namespace(t)
	runName := uiFixture(t, e, ns)
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ui-viewer"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{"sparkcd.io"}, Resources: []string{"sparkjobs", "jobsources"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"pods", "pods/log"}, Verbs: []string{"get"}},
		{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses"}, Verbs: []string{"get"}},
	}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ui-viewer"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "ui-viewer-" + ns}}}
	if err := e.Client.Create(t.Context(), role); err != nil {
		t.Fatal(err)
	}
	if err := e.Client.Create(t.Context(), binding); err != nil {
		t.Fatal(err)
	}
	kc := viewerKubeconfig(t, e, "ui-viewer-"+ns)
	base := startUI(t, "--kubeconfig", kc, "-n", ns)
	if resp, body := get(t, http.MethodGet, base, "/", ""); resp.StatusCode != http.StatusOK || !strings.Contains(body, `data-run="`+runName+`"`) {
		t.Fatalf("the viewer's overview: %s\n%s", resp.Status, body)
	}
	resp, body := get(t, http.MethodGet, base, "/runs/"+ns+"/pi/"+runName, "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "line 149 ") || !strings.Contains(body, "http://spark.example.com/") {
		t.Fatalf("the viewer's run page: %s\n%s", resp.Status, body)
	}
	testUIEvents(t, base, ns)
	all := startUI(t, "--kubeconfig", kc, "-A")
	if resp, body := get(t, http.MethodGet, all, "/", ""); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "forbidden") {
		t.Errorf("every namespace, for a viewer of one: %s\n%s", resp.Status, body)
	}
}
