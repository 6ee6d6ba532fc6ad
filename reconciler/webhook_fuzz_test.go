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

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/reconciler"
)

// fuzzToken is the webhook Secret's token of FuzzWebhook's source.
const fuzzToken = "fuzz-t0ken"

// FuzzWebhook sends arbitrary paths, bodies and signature headers to the
// webhook receiver: it must never panic, and it must accept (202 or 200)
// only a request whose signature or token is right for its exact body. The
// receiver's reads and its one patch go to a fake client: what is fuzzed is
// the parsing and the verification, not the API server.
func FuzzWebhook(f *testing.F) {
	body := []byte(`{"ref":"refs/heads/main"}`)
	good := sign(fuzzToken, string(body))
	f.Add("/hooks/ns/jobs", body, "X-Hub-Signature-256", good, "")
	f.Add("/hooks/ns/jobs", body, "X-Signature", good, "push")
	f.Add("/hooks/ns/jobs", body, "X-Gitlab-Token", fuzzToken, "")
	f.Add("/hooks/ns/jobs", body, "X-Hub-Signature-256", "sha256=", "ping")
	f.Add("/hooks/ns/jobs/", body, "X-Hub-Signature-256", "sha256=zz", "")
	f.Add("/hooks/ns/jobs", append(body, ' '), "X-Hub-Signature-256", good, "")
	f.Add("/hooks/../ns/jobs", body, "X-Signature", "sha1=00", "")
	f.Add("/hooks/ns/nohook", body, "X-Gitlab-Token", fuzzToken, "")
	f.Add("/hooks/NS/jobs", []byte{}, "", "", "")
	f.Fuzz(func(t *testing.T, path string, body []byte, header, value, event string) {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.URL.Path = path
		if header != "" {
			if !validHeader(header, value) {
				return // net/http would refuse to send it
			}
			req.Header.Set(header, value)
		}
		if event != "" && validHeader("X-GitHub-Event", event) {
			req.Header.Set("X-GitHub-Event", event)
		}
		opts := reconciler.DefaultWebhookOptions()
		opts.MaxBodyBytes = 4 << 10
		rec := httptest.NewRecorder()
		reconciler.NewWebhookHandler(fuzzClient(t), opts).ServeHTTP(rec, req)
		accepted := rec.Code == http.StatusAccepted || rec.Code == http.StatusOK
		if accepted && !(path == "/hooks/ns/jobs" || path == "/hooks/ns/jobs/") {
			t.Fatalf("answered %d for path %q", rec.Code, path)
		}
		if accepted && !rightSignature(req.Header, body) {
			t.Fatalf("accepted a request with a bad signature: %s=%q, body %q", header, value, body)
		}
		if rec.Code == http.StatusAccepted && len(body) > int(opts.MaxBodyBytes) {
			t.Fatalf("accepted a body of %d bytes over the limit", len(body))
		}
	})
}

// rightSignature says whether the header the receiver decides by (the
// first present of X-Hub-Signature-256, X-Signature, X-Gitlab-Token)
// holds the right signature or token for body.
func rightSignature(h http.Header, body []byte) bool {
	mac := hmac.New(sha256.New, []byte(fuzzToken))
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	switch {
	case h.Get("X-Hub-Signature-256") != "":
		return hmacEqualHex(h.Get("X-Hub-Signature-256"), want)
	case h.Get("X-Signature") != "":
		return hmacEqualHex(h.Get("X-Signature"), want)
	case h.Get("X-Gitlab-Token") != "":
		return h.Get("X-Gitlab-Token") == fuzzToken
	}
	return false
}

// hmacEqualHex compares "sha256=<hex>" signatures by value: hex digits
// may be written in either case.
func hmacEqualHex(got, want string) bool {
	g, ok := strings.CutPrefix(got, "sha256=")
	if !ok {
		return false
	}
	a, err := hex.DecodeString(g)
	if err != nil {
		return false
	}
	b, _ := hex.DecodeString(want[len("sha256="):])
	return hmac.Equal(a, b)
}

// validHeader reports whether net/http would send this header.
func validHeader(name, value string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c == '\r' || c == '\n' || c == 0 {
			return false
		}
	}
	return true
}

// fuzzClient is a fake client holding JobSource ns/jobs with its webhook
// Secret, and ns/nohook without one.
func fuzzClient(t *testing.T) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		&v1alpha1.JobSource{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "jobs"},
			Spec: v1alpha1.JobSourceSpec{URL: "https://example.com/jobs.git", WebhookSecretRef: &meta.LocalObjectReference{Name: "hook"}}},
		&v1alpha1.JobSource{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "nohook"},
			Spec: v1alpha1.JobSourceSpec{URL: "https://example.com/jobs.git"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hook"}, Data: map[string][]byte{"token": []byte(fuzzToken)}},
	).Build()
}
