package gitsource

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/sparkcd/sparkcd/internal/gittest"
)

func TestParseKeys(t *testing.T) {
	_, pgp := gittest.NewOpenPGPKey(t)
	_, pgp2 := gittest.NewOpenPGPKey(t)
	_, sshPub := gittest.NewSSHSigningKey(t)
	_, sshPub2 := gittest.NewSSHSigningKey(t)
	allowed := "# team\nt@example.com namespaces=\"git\" " + string(sshPub) + "bob@example.com,carol@example.com " + string(sshPub2)
	tests := []struct {
		name    string
		data    map[string][]byte
		wantLen int
		wantErr error
		wantMsg string
	}{
		{name: "one of each", data: map[string][]byte{"a.asc": pgp, "b.pub": sshPub}, wantLen: 2},
		{name: "two key blocks in one file", data: map[string][]byte{"team.asc": append(append([]byte(nil), pgp...), pgp2...)}, wantLen: 2},
		{name: "authorized_keys with comments", data: map[string][]byte{"keys.pub": []byte("# ci\n" + string(sshPub) + "\n" + string(sshPub2))}, wantLen: 2},
		{name: "allowed_signers", data: map[string][]byte{"allowed_signers": []byte(allowed)}, wantLen: 2},
		{name: "other entries ignored", data: map[string][]byte{"b.pub": sshPub, "README.md": []byte("hello")}, wantLen: 1},
		{name: "no keys", data: map[string][]byte{"README.md": []byte("hello")}, wantErr: ErrNoVerificationKeys, wantMsg: "'*.asc' (OpenPGP)"},
		{name: "empty secret", data: nil, wantErr: ErrNoVerificationKeys},
		{name: "bad OpenPGP key", data: map[string][]byte{"bad.asc": []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnonsense\n-----END PGP PUBLIC KEY BLOCK-----\n")},
			wantErr: ErrInvalidVerificationKey, wantMsg: "key 'bad.asc'"},
		{name: "not armored", data: map[string][]byte{"bad.asc": []byte("hello")}, wantErr: ErrInvalidVerificationKey, wantMsg: "key 'bad.asc'"},
		{name: "bad SSH key", data: map[string][]byte{"x.pub": []byte("ssh-ed25519 AAAAnotakey")}, wantErr: ErrInvalidVerificationKey, wantMsg: "key 'x.pub': line 1"},
		{name: "allowed_signers without principal", data: map[string][]byte{"allowed_signers": sshPub}, wantErr: ErrInvalidVerificationKey, wantMsg: "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKeys(tt.data)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("got %v, want %v saying %q", err, tt.wantErr, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.Len() != tt.wantLen {
				t.Errorf("%d keys, want %d", k.Len(), tt.wantLen)
			}
		})
	}
}

// TestVerifyRevision verifies a local repository as `sparkcd diff
// --verify` does, with keys read from files: an allowed_signers file and
// an OpenPGP key.
func TestVerifyRevision(t *testing.T) {
	s := newSigners(t)
	dir := t.TempDir()
	writeFile(t, dir+"/allowed_signers", "t@example.com "+string(s.sshPub))
	writeFile(t, dir+"/team.asc", string(s.pgpPub))
	keys, err := ReadKeyFiles(dir+"/allowed_signers", dir+"/team.asc")
	if err != nil {
		t.Fatal(err)
	}
	u := newUpstream(t)
	u.CommitSSH(t, "one", s.sshFile)
	u.commit(t, "unsigned")
	tip := u.CommitOpenPGP(t, "three", s.pgp)
	rev, signed, err := VerifyRevision(u.work, "HEAD", Verification{Keys: keys})
	if err != nil || rev.Hash.String() != tip || len(signed) != 1 {
		t.Fatalf("HEAD: %v %v %v, want %s verified", rev, signed, err, tip)
	}
	_, _, err = VerifyRevision(u.work, "HEAD", Verification{Keys: keys, Mode: VerifyAllSinceLastApplied, LastApplied: "HEAD~2"})
	var ve *VerificationError
	if !errors.As(err, &ve) || ve.Commit.String() != u.git(t, "rev-parse", "HEAD~1") || ve.Signer != "unsigned" {
		t.Fatalf("all since HEAD~2: %v, want HEAD~1 refused as unsigned", err)
	}
	if _, err := ReadKeyFiles(dir + "/missing"); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("a missing key file: %v", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
