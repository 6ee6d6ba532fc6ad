package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparkcd/sparkcd/internal/gittest"
)

// TestDiffVerify runs `sparkcd diff --verify` on a real repository whose
// commits git signed with SSH and go-git with OpenPGP: exit 0 for a signed
// --to, 1 naming the commit for an unsigned or wrongly signed one (and,
// in mode all-since-last-applied, for an unsigned commit under a signed
// --to), 2 for keys that cannot be read.
func TestDiffVerify(t *testing.T) {
	job, err := os.ReadFile(filepath.Join(repoRoot(t), "jobs/examples/base/spark-pi/job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	pgpKey, pgpPub := gittest.NewOpenPGPKey(t)
	otherPGP, _ := gittest.NewOpenPGPKey(t)
	sshFile, sshPub := gittest.NewSSHSigningKey(t)
	keys := t.TempDir()
	for name, b := range map[string][]byte{"team.asc": pgpPub, "allowed_signers": append([]byte("t@example.com "), sshPub...)} {
		if err := os.WriteFile(filepath.Join(keys, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	repo := gittest.NewRepo(t)
	repo.WriteFile(t, "jobs/pi.yaml", string(job))
	base := repo.CommitSSH(t, "pi", sshFile)
	unsigned := repo.Commit(t, "unsigned")
	signed := repo.CommitOpenPGP(t, "signed", pgpKey)
	wrong := repo.CommitOpenPGP(t, "other key", otherPGP)
	tests := []struct {
		name     string
		args     []string
		keys     string // instead of the trusted keys
		wantCode int
		want     []string
	}{
		{name: "SSH signed", args: []string{"--from", base, "--to", base}, want: []string{"verified 1 commit", "SSH key SHA256:"}},
		{name: "OpenPGP signed", args: []string{"--from", base, "--to", signed}, want: []string{"verified 1 commit", "OpenPGP key"}},
		{name: "unsigned", args: []string{"--from", base, "--to", unsigned}, wantCode: 1, want: []string{"commit '" + unsigned + "'", "unsigned", "t <t@example.com>"}},
		{name: "wrong key", args: []string{"--from", base, "--to", wrong}, wantCode: 1,
			want: []string{"commit '" + wrong + "'", strings.ToUpper(otherPGP.PrimaryKey.KeyIdString()), "not among the trusted keys"}},
		{name: "all since --from", args: []string{"--from", base, "--to", signed, "--verify-mode", "all-since-last-applied"}, wantCode: 1,
			want: []string{"commit '" + unsigned + "'", "unsigned"}},
		{name: "all since --from, signed", args: []string{"--from", unsigned, "--to", signed, "--verify-mode", "all-since-last-applied"}, want: []string{"verified 1 commit"}},
		{name: "bad mode", args: []string{"--from", base, "--verify-mode", "tip"}, wantCode: 2, want: []string{"--verify-mode 'tip'"}},
		{name: "no keys", args: []string{"--from", base}, keys: filepath.Join(keys, "nope"), wantCode: 2, want: []string{"nope"}},
		{name: "keys without keys", args: []string{"--from", base}, keys: filepath.Join(repo.Work, "jobs"), wantCode: 2, want: []string{"no verification keys"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := keys
			if tt.keys != "" {
				k = tt.keys
			}
			args := append([]string{"diff", "--verify", "--keys", k}, tt.args...)
			args = append(args, "jobs")
			code, _, errOut := sparkcd(t, repo.Work, args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr does not say %q:\n%s", w, errOut)
				}
			}
		})
	}
	if code, _, errOut := sparkcd(t, repo.Work, "diff", "--from", base, "--keys", keys, "jobs"); code != 2 || !strings.Contains(errOut, "--keys is read only with --verify") {
		t.Errorf("--keys without --verify: exit %d, %s", code, errOut)
	}
}
