package badinput

import (
	"bytes"
	"fmt"
	"maps"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// verifyLeakSources adds to TestCredentialsNeverLeak a commit of job
// "ver" signed with an SSH key, pushed to repo, and two JobSources with
// spec.verify over url (basic auth from the Secret "basic"), path "ver":
// "verified" trusts the key and applies the commit; "unverified" trusts
// other keys only and is refused. Both key Secrets hold an OpenPGP key as
// well. It returns the key rings' contents, which must appear nowhere.
// The other sources poll hourly, so the new commit leaves them alone.
func verifyLeakSources(t *testing.T, e *testenv.Env, ns string, repo *gittest.Repo, url string) map[string]string {
	t.Helper()
	signingKey, trusted := gittest.NewSSHSigningKey(t)
	repo.WriteFile(t, "ver/ver.yaml", goodJob("ver"))
	repo.CommitSSH(t, "a signed job", signingKey)
	repo.Push(t)
	_, pgp := gittest.NewOpenPGPKey(t)
	_, otherPGP := gittest.NewOpenPGPKey(t)
	_, otherSSH := gittest.NewSSHSigningKey(t)
	createSecrets(t, e, ns, map[string]map[string][]byte{
		"keys":      {"alice.pub": trusted, "team.asc": pgp},
		"otherkeys": {"bob.pub": otherSSH, "team.asc": otherPGP},
	})
	for name, keys := range map[string]string{"verified": "keys", "unverified": "otherkeys"} {
		jobSource(t, e, ns, name, url, func(s *v1alpha1.JobSource) {
			s.Spec.Path, s.Spec.Prune = "ver", false
			s.Spec.SecretRef = &meta.LocalObjectReference{Name: "basic"}
			s.Spec.Verify = &v1alpha1.GitVerification{SecretRef: meta.LocalObjectReference{Name: keys}}
		})
	}
	waitReady(t, e, ns, "verified", metav1.ConditionTrue, meta.SucceededReason)
	waitReady(t, e, ns, "unverified", metav1.ConditionFalse, reconciler.ReasonVerificationFailed, "not among the trusted keys")
	needles := map[string]string{}
	for name, key := range map[string][]byte{"trusted SSH key": trusted, "other SSH key": otherSSH} {
		// "ssh-ed25519 AAAA… comment": the base64 blob is the key.
		needles[name] = string(bytes.Fields(key)[1])
	}
	for name, key := range map[string][]byte{"OpenPGP key": pgp, "other OpenPGP key": otherPGP} {
		for i, line := range bytes.Split(key, []byte("\n")) {
			if len(line) >= 40 && !bytes.HasPrefix(line, []byte("-----")) {
				needles[fmt.Sprintf("%s line %d", name, i)] = string(line)
			}
		}
	}
	return needles
}

// withNeedles adds more needles to needles.
func withNeedles(needles, more map[string]string) map[string]string {
	maps.Copy(needles, more)
	return needles
}
