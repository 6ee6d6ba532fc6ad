package gitsource

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// gitRun runs the real git binary in dir.
func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestExport(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("the git binary is required for this test (apt-get install git): %v", err)
	}
	repo := t.TempDir()
	gitRun(t, repo, "init", "-q", "-b", "main")
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(repo, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("jobs/a/job.yaml", "one\n")
	gitRun(t, repo, "add", "-A")
	gitRun(t, repo, "commit", "-q", "-m", "first")
	first := gitRun(t, repo, "rev-parse", "HEAD")
	write("jobs/a/job.yaml", "two\n")
	write("jobs/b/job.yaml", "new\n")
	if err := os.Symlink("../a/job.yaml", filepath.Join(repo, "jobs/b/link.yaml")); err != nil {
		t.Fatal(err)
	}
	gitRun(t, repo, "add", "-A")
	gitRun(t, repo, "commit", "-q", "-m", "second")

	tests := []struct {
		name    string
		rev     string
		want    map[string]string
		wantRef string
	}{
		{name: "first by hash", rev: first, want: map[string]string{"jobs/a/job.yaml": "one\n"}, wantRef: first},
		{name: "HEAD~1", rev: "HEAD~1", want: map[string]string{"jobs/a/job.yaml": "one\n"}, wantRef: "HEAD~1"},
		{name: "branch", rev: "main", want: map[string]string{
			"jobs/a/job.yaml": "two\n", "jobs/b/job.yaml": "new\n", "jobs/b/link.yaml": "-> ../a/job.yaml",
		}, wantRef: "main"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := t.TempDir()
			rev, err := Export(filepath.Join(repo, "jobs"), tt.rev, dst)
			if err != nil {
				t.Fatal(err)
			}
			if rev.Ref != tt.wantRef || !strings.HasPrefix(rev.String(), tt.wantRef+"@sha1:") || len(rev.Hash.String()) != 40 {
				t.Errorf("revision = %s", rev)
			}
			got := map[string]string{}
			err = filepath.Walk(dst, func(p string, info os.FileInfo, err error) error {
				if err != nil || info.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(dst, p)
				if info.Mode()&os.ModeSymlink != 0 {
					l, _ := os.Readlink(p)
					got[filepath.ToSlash(rel)] = "-> " + l
					return nil
				}
				b, err := os.ReadFile(p)
				got[filepath.ToSlash(rel)] = string(b)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("exported tree (-want +got):\n%s", diff)
			}
		})
	}

	if _, err := Export(repo, "no-such-branch", t.TempDir()); err == nil || !strings.Contains(err.Error(), "no-such-branch") {
		t.Errorf("unknown revision: err = %v", err)
	}
}
