package reconciler_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

func sign(key, body string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// webhookSources starts the source loop on two JobSources over one
// repository: jobs, verified with token from the Secret hook, and nohook,
// without a webhook Secret. It returns the repository once jobs has
// applied its first revision.
func webhookSources(t *testing.T, e *testenv.Env, ns, token string) *gittest.Repo {
	t.Helper()
	repo := gittest.NewRepo(t)
	repo.WriteFile(t, "jobs/a.yaml", jobYAML(t, "a"))
	repo.CommitAndPush(t, "a")
	git := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	if err := e.Client.Create(t.Context(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hook"},
		Data:       map[string][]byte{"token": []byte(token)},
	}); err != nil {
		t.Fatal(err)
	}
	startSourceLoop(t, e, reconciler.SourceOptions{}, ns)
	newSource(t, e, ns, "jobs", git.URL(""), func(s *v1alpha1.JobSource) {
		s.Spec.WebhookSecretRef = &meta.LocalObjectReference{Name: "hook"}
	})
	newSource(t, e, ns, "nohook", git.URL(""), func(s *v1alpha1.JobSource) { s.Spec.Path = "." })
	waitSource(t, e, ns, "jobs", "first revision", func(s *v1alpha1.JobSource) bool { return s.Status.LastAppliedRevision != "" })
	return repo
}

// sendHook sends body to url with headers (a POST when method is empty)
// and returns the status code.
func sendHook(t *testing.T, method, url, body string, headers map[string]string) int {
	t.Helper()
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestWebhook: a verified webhook makes the source loop fetch the new
// commit; a bad, missing or replayed signature, an unknown source, a
// source without a webhook Secret, a body too large or a GET trigger
// nothing.
func TestWebhook(t *testing.T) {
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	const token = "hook-t0ken"
	repo := webhookSources(t, e, ns, token)

	opts := reconciler.DefaultWebhookOptions()
	opts.Reader = e.Client
	opts.MaxBodyBytes = 4 << 10
	hooks := httptest.NewServer(reconciler.NewWebhookHandler(e.Client, opts))
	t.Cleanup(hooks.Close)
	body := `{"ref":"refs/heads/main"}`

	tests := []struct {
		name    string
		method  string
		path    string
		body    string
		headers map[string]string
		want    int
	}{
		{name: "github signature", path: "jobs", body: body, headers: map[string]string{"X-Hub-Signature-256": sign(token, body)}, want: http.StatusAccepted},
		{name: "generic signature", path: "jobs", body: body, headers: map[string]string{"X-Signature": sign(token, body)}, want: http.StatusAccepted},
		{name: "gitlab token", path: "jobs", body: body, headers: map[string]string{"X-Gitlab-Token": token}, want: http.StatusAccepted},
		{name: "bad signature", path: "jobs", body: body, headers: map[string]string{"X-Hub-Signature-256": sign("wrong", body)}, want: http.StatusUnauthorized},
		{name: "missing signature", path: "jobs", body: body, want: http.StatusUnauthorized},
		{name: "replayed signature, altered body", path: "jobs", body: body + " ", headers: map[string]string{"X-Hub-Signature-256": sign(token, body)}, want: http.StatusUnauthorized},
		{name: "bad gitlab token", path: "jobs", body: body, headers: map[string]string{"X-Gitlab-Token": "nope"}, want: http.StatusUnauthorized},
		{name: "too large", path: "jobs", body: strings.Repeat("x", 5<<10), headers: map[string]string{"X-Signature": sign(token, strings.Repeat("x", 5<<10))}, want: http.StatusRequestEntityTooLarge},
		{name: "unknown source", path: "nope", body: body, headers: map[string]string{"X-Signature": sign(token, body)}, want: http.StatusNotFound},
		{name: "source without webhook secret", path: "nohook", body: body, headers: map[string]string{"X-Signature": sign(token, body)}, want: http.StatusNotFound},
		{name: "get", method: http.MethodGet, path: "jobs", want: http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := getSource(t, e, ns, "jobs").Annotations[reconciler.AnnotationReconcileRequestedAt]
			if tt.want == http.StatusAccepted {
				// A new commit, which only the webhook makes the loop see:
				// the interval is an hour.
				repo.WriteFile(t, "jobs/"+strings.ReplaceAll(tt.name, " ", "-")+".yaml", jobYAML(t, strings.ReplaceAll(tt.name, " ", "-")))
			}
			commit := repo.CommitAndPush(t, tt.name)
			if status := sendHook(t, tt.method, hooks.URL+"/hooks/"+ns+"/"+tt.path, tt.body, tt.headers); status != tt.want {
				t.Fatalf("status %d, want %d", status, tt.want)
			}
			after := getSource(t, e, ns, "jobs")
			requested := after.Annotations[reconciler.AnnotationReconcileRequestedAt]
			if tt.want != http.StatusAccepted {
				if requested != before {
					t.Errorf("a refused webhook requested a reconcile: %q → %q", before, requested)
				}
				return
			}
			if requested == before {
				t.Fatal("no reconcile requested")
			}
			waitSource(t, e, ns, "jobs", "the commit applied", func(s *v1alpha1.JobSource) bool {
				return strings.HasSuffix(s.Status.LastAppliedRevision, commit) && s.Status.LastHandledReconcileAt == requested
			})
		})
	}
}
