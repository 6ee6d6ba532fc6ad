package badinput

import (
	"bytes"
	"fmt"
	"maps"
	"path/filepath"
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

// TestCLIVerifyExitCodes runs `sparkcd diff --verify` on bad input: an
// unsigned commit is a finding (exit 1) naming the commit; keys that are
// not keys are exit 2 naming the file, and a private key given by mistake
// is never echoed.
func TestCLIVerifyExitCodes(t *testing.T) {
	repo := gittest.NewRepo(t)
	repo.WriteFile(t, "jobs/good/job.yaml", goodJob("good"))
	unsigned := repo.Commit(t, "unsigned")
	keys := t.TempDir()
	_, pub := gittest.NewSSHSigningKey(t)
	_, private := gittest.NewSSHKey(t, "")
	for name, content := range map[string][]byte{
		"good/alice.pub":      pub,
		"bad/team.asc":        []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nbm90IGEga2V5\n-----END PGP PUBLIC KEY BLOCK-----\n"),
		"private/id.pub":      private,
		"none/README.md":      []byte("keys go here\n"),
		"good/notes.txt":      []byte("ignored\n"),
		"private/unrelated.x": []byte("ignored\n"),
	} {
		writeFile(t, keys, name, string(content))
	}
	privateLine := string(bytes.Split(private, []byte("\n"))[1])
	diff := func(keyDir string, extra ...string) []string {
		return append([]string{"diff", "--from", "HEAD", "--verify", "--keys", filepath.Join(keys, keyDir)}, append(extra, "jobs/good")...)
	}
	runCLICases(t, repo.Work, []cliCase{
		{name: "unsigned commit", args: diff("good"), code: 1,
			stderr: []string{"revision 'HEAD' is not verified", "commit '" + unsigned + "' by 't <t@example.com>', unsigned"}},
		{name: "armored nonsense", args: diff("bad"), code: 2, stderr: []string{"invalid verification key: key 'team.asc'"}},
		{name: "a private key as a public key", args: diff("private"), code: 2,
			stderr: []string{"invalid verification key: key 'id.pub': line 1"}, notInAny: []string{privateLine}},
		{name: "no key at all", args: diff("none"), code: 2, stderr: []string{"no verification keys"}},
		{name: "missing key directory", args: diff("nothere"), code: 2, stderr: []string{"nothere"}},
		{name: "unknown mode", args: diff("good", "--verify-mode", "TAG"), code: 2, stderr: []string{"--verify-mode 'TAG'"}},
	})
}
