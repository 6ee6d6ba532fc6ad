package badinput

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// verifyLeakSources adds to TestCredentialsNeverLeak two JobSources with
// spec.verify over url (basic auth from the Secret "basic"), path "ver":
// "verified" trusts trusted, the SSH key that signed the commit, and
// applies it; "unverified" trusts other keys only and is refused. Both
// key Secrets hold an OpenPGP key as well. It returns the key rings'
// contents, which must appear nowhere.
func verifyLeakSources(t *testing.T, e *testenv.Env, ns, url string, trusted []byte) map[string]string {
	t.Helper()
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
