package badinput

import (
	"encoding/base64"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/decryption/sopstest"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// sopsPlain is the value of the SOPS-encrypted Secret of
// TestCredentialsNeverLeak.
const sopsPlain = "sops-pl41n-s3cret-6c02d9"

// sopsFixture is the SOPS part of TestCredentialsNeverLeak: paths "sops"
// and "sopsbad" each hold a job and a Secret encrypted for the identity of
// the decryption Secret "age"; source sopsbad's Secret "agebad" holds
// another identity, so it fails to decrypt.
type sopsFixture struct{ good, bad sopstest.Identity }

func writeSOPS(t *testing.T, repo *gittest.Repo) *sopsFixture {
	t.Helper()
	f := &sopsFixture{good: sopstest.NewIdentity(t), bad: sopstest.NewIdentity(t)}
	secret := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: " + sopsPlain + "\n"
	for _, path := range []string{"sops", "sopsbad"} {
		repo.WriteFile(t, path+"/"+path+".yaml", goodJob(path))
		repo.WriteFile(t, path+"/creds.yaml", string(sopstest.Encrypt(t, []byte(secret), sopstest.Options{}, f.good)))
	}
	return f
}

// sources creates the decryption Secrets and both sources, and waits:
// sops applied, sopsbad with a decryption-failed finding.
func (f *sopsFixture) sources(t *testing.T, e *testenv.Env, ns, url string) {
	t.Helper()
	createSecrets(t, e, ns, map[string]map[string][]byte{
		"age":    {"identity.agekey": []byte(f.good.Secret + "\n")},
		"agebad": {"identity.agekey": []byte(f.bad.Secret + "\n")},
	})
	for name, key := range map[string]string{"sops": "age", "sopsbad": "agebad"} {
		jobSource(t, e, ns, name, url, func(s *v1alpha1.JobSource) {
			s.Spec.Path, s.Spec.Prune = name, false
			s.Spec.Decryption = &v1alpha1.Decryption{Provider: "sops", SecretRef: &meta.LocalObjectReference{Name: key}}
		})
	}
	waitReady(t, e, ns, "sops", metav1.ConditionTrue, meta.SucceededReason)
	// The job applied, the Secret that does not decrypt rejected: a
	// finding (issue 18, item 9).
	waitReady(t, e, ns, "sopsbad", metav1.ConditionTrue, reconciler.ReasonJobsRejected)
}

// needles adds to n the SOPS secrets: the plaintext and both identities.
func (f *sopsFixture) needles(n map[string]string) map[string]string {
	for name, v := range map[string]string{"SOPS plaintext": sopsPlain, "age identity": f.good.Secret, "wrong age identity": f.bad.Secret} {
		n[name] = v
		n[name+" (base64)"] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	n["age identity body"] = f.good.Secret[len("AGE-SECRET-KEY-1"):]
	return n
}
