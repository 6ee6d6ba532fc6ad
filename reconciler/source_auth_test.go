package reconciler_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/reconciler"
)

// TestSourceAuth: the loop reads the credentials of spec.secretRef and
// fetches a private repository over HTTPS with a token or basic auth, and
// over SSH with known_hosts; a wrong host key, a wrong token or a missing
// Secret is a Ready=False condition that names no credential.
func TestSourceAuth(t *testing.T) {
	e := env.Env(t)
	ns := e.Namespace(t)
	repo := gittest.NewRepo(t)
	for _, name := range []string{"https-token", "https-basic", "ssh-known-hosts"} {
		repo.WriteFile(t, name+"/job.yaml", jobYAML(t, name))
	}
	commit := repo.CommitAndPush(t, "one job per source")
	tokenSrv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, gittest.BearerAuth("tok-s3cret")), true)
	basicSrv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, gittest.BasicAuth("alice", "pw-s3cret")), true)
	hostKey, _ := gittest.NewSSHKey(t, "")
	otherHost, _ := gittest.NewSSHKey(t, "")
	clientKey, identity := gittest.NewSSHKey(t, "")
	sshSrv := gittest.StartSSH(t, repo.Root, hostKey, clientKey.PublicKey())
	startSourceLoop(t, e, reconciler.SourceOptions{}, ns)

	tests := []struct {
		name       string
		url        string
		secret     map[string][]byte // nil: no Secret is created
		wantReason string
		wantMsg    string
	}{
		{name: "https-token", url: tokenSrv.URL(""), secret: map[string][]byte{"bearerToken": []byte("tok-s3cret"), "ca.crt": tokenSrv.CAPEM()}, wantReason: meta.SucceededReason},
		{name: "https-basic", url: basicSrv.URL(""), secret: map[string][]byte{"username": []byte("alice"), "password": []byte("pw-s3cret"), "ca.crt": basicSrv.CAPEM()}, wantReason: meta.SucceededReason},
		{name: "ssh-known-hosts", url: sshSrv.URL(), secret: map[string][]byte{"identity": identity, "known_hosts": gittest.KnownHostsLine(sshSrv.Addr(), hostKey.PublicKey())}, wantReason: meta.SucceededReason},
		{name: "ssh-wrong-host-key", url: sshSrv.URL(), secret: map[string][]byte{"identity": identity, "known_hosts": gittest.KnownHostsLine(sshSrv.Addr(), otherHost.PublicKey())},
			wantReason: reconciler.ReasonGitOperationFailed, wantMsg: "mismatch"},
		{name: "https-wrong-token", url: tokenSrv.URL(""), secret: map[string][]byte{"bearerToken": []byte("tok-wrong1"), "ca.crt": tokenSrv.CAPEM()},
			wantReason: reconciler.ReasonGitOperationFailed},
		{name: "https-no-ca", url: tokenSrv.URL(""), secret: map[string][]byte{"bearerToken": []byte("tok-s3cret")},
			wantReason: reconciler.ReasonGitOperationFailed, wantMsg: "certificate"},
		{name: "missing-secret", url: tokenSrv.URL(""), wantReason: reconciler.ReasonAuthenticationFailed, wantMsg: "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.secret != nil {
				if err := e.Client.Create(t.Context(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: tt.name}, Data: tt.secret}); err != nil {
					t.Fatal(err)
				}
			}
			newSource(t, e, ns, tt.name, tt.url, func(s *v1alpha1.JobSource) {
				s.Spec.SecretRef = &meta.LocalObjectReference{Name: tt.name}
				s.Spec.Prune = false
				s.Spec.Path = tt.name
			})
			src := waitSource(t, e, ns, tt.name, "Ready "+tt.wantReason, func(s *v1alpha1.JobSource) bool {
				c := apimeta.FindStatusCondition(s.Status.Conditions, meta.ReadyCondition)
				return c != nil && c.Reason == tt.wantReason
			})
			c := apimeta.FindStatusCondition(src.Status.Conditions, meta.ReadyCondition)
			if !strings.Contains(c.Message, tt.wantMsg) {
				t.Errorf("Ready message %q does not contain %q", c.Message, tt.wantMsg)
			}
			for _, s := range []string{"tok-s3cret", "pw-s3cret", "tok-wrong1"} {
				if strings.Contains(c.Message, s) {
					t.Errorf("Ready message leaks a credential: %q", c.Message)
				}
			}
			if tt.wantReason == meta.SucceededReason && !strings.HasSuffix(src.Status.LastAppliedRevision, commit) {
				t.Errorf("last applied %q, want %s", src.Status.LastAppliedRevision, commit)
			}
		})
	}
}
