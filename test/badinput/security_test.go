package badinput

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// The credentials of TestCredentialsNeverLeak, each distinctive enough that
// finding it anywhere is a leak.
const (
	bearerToken = "tok-s3cret-bearer-9f2c41"
	wrongToken  = "tok-wr0ng-bearer-e81d07"
	basicPass   = "pw-s3cret-basic-71aa5e"
	urlPass     = "url-pass-s3cret-5d1e92"
	wrongURL    = "url-wr0ng-s3cret-c44a10"
	hookToken   = "hook-t0ken-s3cret-3b7e6f"
)

// TestCredentialsNeverLeak runs `sparkcd serve` with JobSources whose
// Secrets hold a bearer token, a basic-auth password, an SSH private key
// and a webhook token, age identities that decrypt a SOPS-encrypted Secret
// (and one that does not), URLs with credentials in their userinfo, and
// spec.verify key rings (verifyLeakSources); makes each fail (wrong token,
// wrong password, unknown host key, no CA, server down, untrusted key)
// and succeed; sends right and wrong webhooks; and then
// searches the process's logs, every Event of the namespace, the
// JobSources and SparkJobs as YAML, and `sparkcd status` for every secret
// value and its base64: none may appear. TLS certificates and SSH host
// keys are verified by default.
func TestCredentialsNeverLeak(t *testing.T) {
	e := env.Env(t)
	ns := e.Namespace(t)
	ctx := t.Context()
	if err := e.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "spark"}}); err != nil {
		t.Fatal(err)
	}
	repo := gittest.NewRepo(t)
	for _, name := range []string{"tok", "basic", "ssh", "url"} {
		repo.WriteFile(t, name+"/"+name+".yaml", goodJob(name))
	}
	sops := writeSOPS(t, repo)
	commit := repo.CommitAndPush(t, "one job per source")
	tokenSrv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, gittest.BearerAuth(bearerToken)), true)
	basicSrv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, gittest.BasicAuth("alice", basicPass)), true)
	urlSrv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, gittest.BasicAuth("alice", urlPass)), false)
	hostKey, _ := gittest.NewSSHKey(t, "")
	otherHost, _ := gittest.NewSSHKey(t, "")
	clientKey, identity := gittest.NewSSHKey(t, "")
	sshSrv := gittest.StartSSH(t, repo.Root, hostKey, clientKey.PublicKey())
	secrets := map[string]map[string][]byte{
		"tok":    {"bearerToken": []byte(wrongToken), "ca.crt": tokenSrv.CAPEM()},
		"noca":   {"bearerToken": []byte(bearerToken)},
		"basic":  {"username": []byte("alice"), "password": []byte(basicPass), "ca.crt": basicSrv.CAPEM()},
		"ssh":    {"identity": identity, "known_hosts": gittest.KnownHostsLine(sshSrv.Addr(), hostKey.PublicKey())},
		"sshbad": {"identity": identity, "known_hosts": gittest.KnownHostsLine(sshSrv.Addr(), otherHost.PublicKey())},
		"hook":   {"token": []byte(hookToken)},
	}
	createSecrets(t, e, ns, secrets)
	hookAddr := freeAddr(t)
	logs := serve(t, e, []string{"--webhook-addr", hookAddr}, ns)

	leakSource(t, e, ns, "tok", tokenSrv.URL(""), "tok", "tok")
	leakSource(t, e, ns, "noca", tokenSrv.URL(""), "tok", "noca")
	leakSource(t, e, ns, "basic", basicSrv.URL(""), "basic", "basic")
	leakSource(t, e, ns, "ssh", sshSrv.URL(), "ssh", "ssh")
	leakSource(t, e, ns, "sshbad", sshSrv.URL(), "ssh", "sshbad")
	leakSource(t, e, ns, "url", urlSrv.URL("alice:"+urlPass), "url", "")
	leakSource(t, e, ns, "urlwrong", urlSrv.URL("alice:"+wrongURL), "url", "")

	// Failures first: each says why, in words that name no credential.
	waitReady(t, e, ns, "tok", metav1.ConditionFalse, reconciler.ReasonGitOperationFailed, "authentication required")
	waitReady(t, e, ns, "noca", metav1.ConditionFalse, reconciler.ReasonGitOperationFailed, "certificate signed by unknown authority")
	waitReady(t, e, ns, "sshbad", metav1.ConditionFalse, reconciler.ReasonGitOperationFailed, "mismatch")
	waitReady(t, e, ns, "urlwrong", metav1.ConditionFalse, reconciler.ReasonGitOperationFailed, "authentication required")
	for _, name := range []string{"basic", "ssh", "url"} {
		src := waitReady(t, e, ns, name, metav1.ConditionTrue, meta.SucceededReason)
		if !strings.HasSuffix(src.Status.LastAppliedRevision, commit) {
			t.Errorf("%s applied %q, want %s", name, src.Status.LastAppliedRevision, commit)
		}
	}

	sops.sources(t, e, ns, urlSrv.URL("alice:"+urlPass))
	fixTokenThenWebhooks(t, e, ns, hookAddr)
	// The server goes down: the source says so and keeps what it applied.
	tokenSrv.Stop()
	if err := reconciler.RequestReconcile(ctx, e.Client, types.NamespacedName{Namespace: ns, Name: "tok"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	down := waitReady(t, e, ns, "tok", metav1.ConditionFalse, reconciler.ReasonGitOperationFailed, "connection refused")
	if !strings.HasSuffix(down.Status.LastAppliedRevision, commit) {
		t.Errorf("lastAppliedRevision %q after the outage, want %s kept", down.Status.LastAppliedRevision, commit)
	}
	sparkJob(t, e, ns, "tok")

	keyNeedles := verifyLeakSources(t, e, ns, repo, basicSrv.URL(""))
	// Search everything a user or an attacker with read access sees.
	code, statusOut, statusErr := runCLI(t, t.TempDir(), "status", "--kubeconfig", e.Kubeconfig, "-n", ns)
	if code != 0 {
		t.Errorf("sparkcd status exit %d: %s", code, statusErr)
	}
	places := map[string]string{
		"sparkcd serve logs":    logs.String(),
		"sparkcd status output": statusOut + statusErr,
		"events":                dumpEvents(t, ns),
		"JobSource statuses":    sourceStatuses(t, ns),
		"SparkJobs":             dumpList(t, &v1alpha1.SparkJobList{}, ns),
	}
	searchForSecrets(t, places, withNeedles(sops.needles(secretNeedles(identity)), keyNeedles))
}

// createSecrets creates one Secret in ns per entry of secrets.
func createSecrets(t *testing.T, e *testenv.Env, ns string, secrets map[string]map[string][]byte) {
	t.Helper()
	for name, data := range secrets {
		if err := e.Client.Create(t.Context(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
}

// leakSource creates a JobSource that does not prune, reading path from
// url with the Secret secret (none when empty); tok also takes webhooks.
func leakSource(t *testing.T, e *testenv.Env, ns, name, url, path, secret string) {
	t.Helper()
	jobSource(t, e, ns, name, url, func(s *v1alpha1.JobSource) {
		s.Spec.Path, s.Spec.Prune = path, false
		if secret != "" {
			s.Spec.SecretRef = &meta.LocalObjectReference{Name: secret}
		}
		if name == "tok" {
			s.Spec.WebhookSecretRef = &meta.LocalObjectReference{Name: "hook"}
		}
	})
}

// fixTokenThenWebhooks puts the right bearer token in the Secret tok,
// then sends webhooks: a wrong signature and a wrong token are refused,
// the right signature makes the loop fetch and tok become Ready.
func fixTokenThenWebhooks(t *testing.T, e *testenv.Env, ns, hookAddr string) {
	t.Helper()
	fix := &corev1.Secret{}
	if err := e.Client.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: "tok"}, fix); err != nil {
		t.Fatal(err)
	}
	fix.Data["bearerToken"] = []byte(bearerToken)
	if err := e.Client.Update(t.Context(), fix); err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"ref":"refs/heads/main"}`)
	if code := webhook(t, hookAddr, ns, body, "X-Hub-Signature-256", hmacHex("not-the-token", body)); code != http.StatusUnauthorized {
		t.Errorf("a wrong signature got %d, want 401", code)
	}
	if code := webhook(t, hookAddr, ns, body, "X-Gitlab-Token", wrongToken); code != http.StatusUnauthorized {
		t.Errorf("a wrong token got %d, want 401", code)
	}
	if code := webhook(t, hookAddr, ns, body, "X-Hub-Signature-256", hmacHex(hookToken, body)); code != http.StatusAccepted {
		t.Fatalf("the right signature got %d, want 202", code)
	}
	waitReady(t, e, ns, "tok", metav1.ConditionTrue, meta.SucceededReason)
}

// searchForSecrets fails the test for every needle found in a place, and
// for a search that would prove nothing: no Applied event, a failure the
// logs never mention, an empty place.
func searchForSecrets(t *testing.T, places, needles map[string]string) {
	t.Helper()
	if !strings.Contains(places["events"], "Applied") {
		t.Errorf("no Applied event was recorded; the search would prove nothing:\n%s", places["events"])
	}
	for _, w := range []string{"authentication required", "certificate signed by unknown authority", "mismatch", "connection refused", "webhook refused", "not among the trusted keys"} {
		if !strings.Contains(places["sparkcd serve logs"], w) {
			t.Errorf("the logs never say %q: the failures were not logged, so the search proves less", w)
		}
	}
	for where, text := range places {
		if text == "" {
			t.Errorf("%s is empty: the search would prove nothing", where)
		}
		for name, needle := range needles {
			if strings.Contains(text, needle) {
				i := strings.Index(text, needle)
				t.Errorf("%s holds the %s: ...%s...", where, name, text[max(0, i-80):min(len(text), i+len(needle)+80)])
			}
		}
	}
	t.Logf("searched %d places (%d bytes) for %d secret strings", len(places), totalLen(places), len(needles))
}

// secretNeedles are the strings that must appear nowhere: every
// credential, its base64, and each line of the SSH private key's body.
func secretNeedles(identity []byte) map[string]string {
	n := map[string]string{}
	for name, v := range map[string]string{
		"bearer token": bearerToken, "wrong bearer token": wrongToken, "basic-auth password": basicPass,
		"URL password": urlPass, "wrong URL password": wrongURL, "webhook token": hookToken,
	} {
		n[name] = v
		n[name+" (base64)"] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	n["SSH private key (base64)"] = base64.StdEncoding.EncodeToString(identity)[:40]
	for i, line := range bytes.Split(identity, []byte("\n")) {
		if len(line) >= 40 && !bytes.HasPrefix(line, []byte("-----")) {
			n[fmt.Sprintf("SSH private key line %d", i)] = string(line)
		}
	}
	return n
}

func totalLen(m map[string]string) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
}

// dumpEvents returns every Event of ns, core and events.k8s.io, as YAML.
func dumpEvents(t *testing.T, ns string) string {
	t.Helper()
	e := env.Env(t)
	core := &corev1.EventList{}
	if err := e.Client.List(t.Context(), core, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	events := &eventsv1.EventList{}
	if err := e.Client.List(t.Context(), events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	a, _ := yaml.Marshal(core)
	b, _ := yaml.Marshal(events)
	return string(a) + string(b)
}

func dumpList(t *testing.T, list client.ObjectList, ns string) string {
	t.Helper()
	if err := env.Env(t).Client.List(t.Context(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	b, err := yaml.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sourceStatuses returns the JobSources' metadata and status as YAML: their
// spec.url is what the user wrote, credentials included.
func sourceStatuses(t *testing.T, ns string) string {
	t.Helper()
	list := &v1alpha1.JobSourceList{}
	if err := env.Env(t).Client.List(t.Context(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, src := range list.Items {
		out, err := yaml.Marshal(map[string]any{"metadata": src.ObjectMeta, "status": src.Status})
		if err != nil {
			t.Fatal(err)
		}
		b.Write(out)
	}
	return b.String()
}

func hmacHex(key string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// webhook posts body to the receiver for JobSource ns/tok, retrying while
// the receiver is not yet listening, and returns the status code.
func webhook(t *testing.T, addr, ns string, body []byte, header, value string) int {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/hooks/"+ns+"/tok", bytes.NewReader(body))
		req.Header.Set(header, value)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			_ = resp.Body.Close()
			return resp.StatusCode
		}
		if time.Now().After(deadline) {
			t.Fatalf("the webhook receiver did not answer: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
