package gitsource

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/sparkcd/sparkcd/internal/gittest"
)

// signers are the keys of TestCheckoutVerify: a trusted OpenPGP key and
// SSH key, and one of each that is not trusted.
type signers struct {
	pgp, otherPGP     *openpgp.Entity
	pgpPub            []byte
	sshFile, otherSSH string
	sshPub            []byte
	// gpgHome holds a key of the real gpg, trusted as gpg.asc.
	gpgHome string
	gpgPub  []byte
}

func newSigners(t *testing.T) signers {
	var s signers
	s.pgp, s.pgpPub = gittest.NewOpenPGPKey(t)
	s.otherPGP, _ = gittest.NewOpenPGPKey(t)
	s.sshFile, s.sshPub = gittest.NewSSHSigningKey(t)
	s.otherSSH, _ = gittest.NewSSHSigningKey(t)
	s.gpgHome, s.gpgPub = gittest.NewGPGKey(t)
	return s
}

func (s signers) keys(t *testing.T) *KeyRing {
	t.Helper()
	k, err := ParseKeys(map[string][]byte{"team.asc": s.pgpPub, "gpg.asc": s.gpgPub, "alice.pub": s.sshPub, "README": []byte("not a key")})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// history is what a case of TestCheckoutVerify builds: the revision
// applied before, and the tip to check out.
type history struct{ applied, tip string }

// verifyCase is one case of TestCheckoutVerify.
type verifyCase struct {
	name string
	mode VerifyMode
	// build makes the history the client sees; fetched pushes and checks
	// out what is committed so far.
	build func(u *upstream, fetched func()) history
	// wantErr is empty when the tip must be checked out; else a part of
	// the error, which must name wantCommit (default: the tip).
	wantErr, wantSigner string
	wantCommit          func(h history) string
}

func verifyCases(t *testing.T, s signers) []verifyCase {
	return []verifyCase{
		{name: "OpenPGP signed", build: func(u *upstream, _ func()) history {
			return history{tip: u.CommitOpenPGP(t, "pgp", s.pgp)}
		}},
		{name: "OpenPGP signed by git and gpg", build: func(u *upstream, _ func()) history {
			return history{tip: u.CommitGPG(t, "gpg", s.gpgHome)}
		}},
		{name: "SSH signed", build: func(u *upstream, _ func()) history {
			return history{tip: u.CommitSSH(t, "ssh", s.sshFile)}
		}},
		{name: "unsigned refused", build: func(u *upstream, _ func()) history {
			return history{tip: u.Commit(t, "unsigned")}
		}, wantErr: "the commit carries no signature", wantSigner: "unsigned"},
		{name: "untrusted OpenPGP key refused", build: func(u *upstream, _ func()) history {
			return history{tip: u.CommitOpenPGP(t, "pgp", s.otherPGP)}
		}, wantErr: "the key is not among the trusted keys", wantSigner: "OpenPGP key " + fingerprint(s.otherPGP)},
		{name: "untrusted SSH key refused", build: func(u *upstream, _ func()) history {
			return history{tip: u.CommitSSH(t, "ssh", s.otherSSH)}
		}, wantErr: "the key is not among the trusted keys", wantSigner: "SSH key SHA256:"},
		{name: "tampered OpenPGP-signed commit refused", build: func(u *upstream, _ func()) history {
			u.CommitOpenPGP(t, "pgp", s.pgp)
			return history{tip: tamper(t, u)}
		}, wantErr: "a trusted key, but a bad signature", wantSigner: "OpenPGP key " + fingerprint(s.pgp)},
		{name: "tampered SSH-signed commit refused", build: func(u *upstream, _ func()) history {
			u.CommitSSH(t, "ssh", s.sshFile)
			return history{tip: tamper(t, u)}
		}, wantErr: "a trusted key, but a bad signature", wantSigner: "SSH key SHA256:"},
		{name: "HEAD mode checks the tip only", build: func(u *upstream, _ func()) history {
			applied := u.CommitSSH(t, "one", s.sshFile)
			u.Commit(t, "unsigned in the middle")
			return history{applied: "main@sha1:" + applied, tip: u.CommitOpenPGP(t, "three", s.pgp)}
		}},
		{name: "all since last applied, signed", mode: VerifyAllSinceLastApplied, build: func(u *upstream, _ func()) history {
			u.Commit(t, "unsigned, before the last applied")
			applied := u.CommitSSH(t, "one", s.sshFile)
			u.CommitOpenPGP(t, "two", s.pgp)
			return history{applied: "main@sha1:" + applied, tip: u.CommitSSH(t, "three", s.sshFile)}
		}},
		{name: "all since last applied, unsigned in the middle refused", mode: VerifyAllSinceLastApplied, build: func(u *upstream, _ func()) history {
			applied := u.CommitSSH(t, "one", s.sshFile)
			u.commit(t, "unsigned in the middle")
			return history{applied: "main@sha1:" + applied, tip: u.CommitOpenPGP(t, "three", s.pgp)}
		}, wantErr: "the commit carries no signature", wantSigner: "unsigned", wantCommit: func(history) string { return "HEAD~1" }},
		{name: "force-pushed unsigned refused", mode: VerifyAllSinceLastApplied, build: func(u *upstream, fetched func()) history {
			u.CommitSSH(t, "base", s.sshFile)
			applied := u.CommitSSH(t, "applied", s.sshFile)
			fetched()
			u.git(t, "reset", "-q", "--hard", "HEAD~1")
			u.commit(t, "rewritten, unsigned")
			return history{applied: "main@sha1:" + applied, tip: u.CommitSSH(t, "signed on top", s.sshFile)}
		}, wantErr: "the commit carries no signature", wantSigner: "unsigned", wantCommit: func(history) string { return "HEAD~1" }},
		{name: "last applied gone from the repository refused", mode: VerifyAllSinceLastApplied, build: func(u *upstream, _ func()) history {
			return history{applied: "main@sha1:" + strings.Repeat("ab", 20), tip: u.CommitSSH(t, "signed", s.sshFile)}
		}, wantErr: "is no longer in the repository", wantSigner: "SSH key SHA256:"},
	}
}

func TestCheckoutVerify(t *testing.T) {
	s := newSigners(t)
	for _, tt := range verifyCases(t, s) {
		t.Run(tt.name, func(t *testing.T) {
			u := newUpstream(t)
			good := u.CommitSSH(t, "good", s.sshFile)
			u.Push(t)
			srv := gittest.StartHTTP(t, gittest.Handler(t, u.root, nil), false)
			c, err := New(srv.URL(""), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			v := Verification{Keys: s.keys(t), Mode: tt.mode}
			if _, err := c.CheckoutVerified(t.Context(), Ref{}, v); err != nil {
				t.Fatalf("the first, signed commit: %v", err)
			}
			h := tt.build(u, func() {
				u.Push(t)
				if _, err := c.CheckoutVerified(t.Context(), Ref{}, v); err != nil {
					t.Fatal(err)
				}
				good = u.git(t, "rev-parse", "HEAD")
			})
			u.Push(t)
			v.LastApplied = h.applied
			snap, err := c.CheckoutVerified(t.Context(), Ref{}, v)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if snap.Revision.Hash.String() != h.tip {
					t.Fatalf("checked out %s, want %s", snap.Revision, h.tip)
				}
				return
			}
			wantCommit := h.tip
			if tt.wantCommit != nil {
				wantCommit = u.git(t, "rev-parse", tt.wantCommit(h))
			}
			t.Log(err)
			checkRefused(t, c, err, good, wantCommit, tt.wantErr, tt.wantSigner)
		})
	}
}

// checkRefused checks that err refuses commit with a message naming it,
// the committer and the signer, and that the last good checkout stays.
func checkRefused(t *testing.T, c *Client, err error, good, commit, reason, signer string) {
	t.Helper()
	var ve *VerificationError
	if !errors.As(err, &ve) || !errors.Is(err, ErrVerificationFailed) {
		t.Fatalf("got error %v, want a VerificationError", err)
	}
	msg := err.Error()
	for _, want := range []string{commit, "t <t@example.com>", reason, signer} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say %q: %s", want, msg)
		}
	}
	last, ok := c.LastGood()
	if !ok || last.Revision.Hash.String() != good {
		t.Errorf("last good checkout %v, want %s kept", last.Revision, good)
	}
	if entries, err := os.ReadDir(filepath.Dir(last.Dir)); err != nil || len(entries) != 1 || entries[0].Name() != good {
		t.Errorf("checkouts on disk: %v (%v), want only %s", entries, err, good)
	}
}

func fingerprint(e *openpgp.Entity) string { return fmt.Sprintf("%X", e.PrimaryKey.Fingerprint) }

// tamper rewrites the message of the work clone's HEAD, keeping its
// signature, with the real git, and returns the forged commit.
func tamper(t *testing.T, u *upstream) string {
	t.Helper()
	raw := u.git(t, "cat-file", "commit", "HEAD") + "\n"
	forged := strings.Replace(raw, "\n\npgp\n", "\n\nforged\n", 1)
	forged = strings.Replace(forged, "\n\nssh\n", "\n\nforged\n", 1)
	if forged == raw {
		t.Fatalf("nothing to tamper with in:\n%s", raw)
	}
	file := filepath.Join(t.TempDir(), "commit")
	if err := os.WriteFile(file, []byte(forged), 0o644); err != nil {
		t.Fatal(err)
	}
	hash := u.git(t, "hash-object", "-t", "commit", "-w", file)
	u.git(t, "reset", "-q", "--hard", hash)
	return hash
}
