package gittest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"golang.org/x/crypto/ssh"
)

// NewOpenPGPKey returns a fresh ed25519 OpenPGP key for the committer
// identity Run uses, and its public key armored as `gpg --armor --export`
// writes it.
func NewOpenPGPKey(t testing.TB) (*openpgp.Entity, []byte) {
	t.Helper()
	e, err := openpgp.NewEntity("t", "", "t@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return e, buf.Bytes()
}

// CommitOpenPGP stages everything in the work clone and commits it signed
// with key, through go-git's commit signing (the real gpg needs an agent
// and a key store), and returns the commit's hash.
func (r *Repo) CommitOpenPGP(t testing.TB, message string, key *openpgp.Entity) string {
	t.Helper()
	r.Git(t, "add", "-A")
	repo, err := git.PlainOpen(r.Work)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	who := &object.Signature{Name: "t", Email: "t@example.com", When: time.Now()}
	h, err := wt.Commit(message, &git.CommitOptions{Author: who, Committer: who, SignKey: key, AllowEmptyCommits: true})
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// NewSSHSigningKey writes a fresh ed25519 SSH private key to a file for
// git's user.signingkey and returns the file and the public key's
// authorized_keys line.
func NewSSHSigningKey(t testing.TB) (string, []byte) {
	t.Helper()
	signer, private := NewSSHKey(t, "")
	file := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(file, private, 0o600); err != nil {
		t.Fatal(err)
	}
	return file, ssh.MarshalAuthorizedKey(signer.PublicKey())
}

// CommitSSH stages everything in the work clone and commits it signed by
// the real git with gpg.format=ssh and the private key in keyFile (git
// runs `ssh-keygen -Y sign`), and returns the commit's hash.
func (r *Repo) CommitSSH(t testing.TB, message, keyFile string) string {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Fatalf("ssh-keygen is required to sign commits with SSH keys (apt-get install openssh-client): %v", err)
	}
	r.Git(t, "add", "-A")
	r.Git(t, "-c", "gpg.format=ssh", "-c", "user.signingkey="+keyFile, "commit", "-q", "--allow-empty", "-S", "-m", message)
	return r.Git(t, "rev-parse", "HEAD")
}

// NewGPGKey creates an ed25519 signing key for the committer identity Run
// uses with the real gpg, in a fresh GNUPGHOME (short, for the agent's
// socket path), and returns that home and the public key as `gpg --armor
// --export` writes it. The gpg-agent gpg starts is stopped at cleanup.
func NewGPGKey(t testing.TB) (string, []byte) {
	t.Helper()
	gpg, err := exec.LookPath("gpg")
	if err != nil {
		t.Fatalf("gpg is required to sign commits as git users do (apt-get install gnupg): %v", err)
	}
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) []byte {
		cmd := exec.Command(gpg, append([]string{"--batch", "--no-tty"}, args...)...)
		cmd.Env = append(os.Environ(), "GNUPGHOME="+home)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("gpg %v: %v", args, err)
		}
		return out
	}
	t.Cleanup(func() {
		if conf, err := exec.LookPath("gpgconf"); err == nil {
			cmd := exec.Command(conf, "--kill", "gpg-agent")
			cmd.Env = append(os.Environ(), "GNUPGHOME="+home)
			_ = cmd.Run()
		}
		_ = os.RemoveAll(home)
	})
	run("--pinentry-mode", "loopback", "--passphrase", "", "--quick-generate-key", "t <t@example.com>", "ed25519", "sign", "never")
	return home, run("--armor", "--export", "t@example.com")
}

// CommitGPG stages everything in the work clone and commits it signed by
// the real git and gpg with the key of NewGPGKey's home, and returns the
// commit's hash.
func (r *Repo) CommitGPG(t testing.TB, message, home string) string {
	t.Helper()
	r.Git(t, "add", "-A")
	runEnv(t, r.Work, []string{"GNUPGHOME=" + home}, "-c", "user.signingkey=t@example.com", "commit", "-q", "--allow-empty", "-S", "-m", message)
	return r.Git(t, "rev-parse", "HEAD")
}
