package gitsource

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sparkcd/sparkcd/internal/gittest"
)

func TestExport(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("the git binary is required for this test (apt-get install git): %v", err)
	}
	repo := t.TempDir()
	gittest.Run(t, repo, "init", "-q", "-b", "main")
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
	gittest.Run(t, repo, "add", "-A")
	gittest.Run(t, repo, "commit", "-q", "-m", "first")
	first := gittest.Run(t, repo, "rev-parse", "HEAD")
	write("jobs/a/job.yaml", "two\n")
	write("jobs/b/job.yaml", "new\n")
	if err := os.Symlink("../a/job.yaml", filepath.Join(repo, "jobs/b/link.yaml")); err != nil {
		t.Fatal(err)
	}
	gittest.Run(t, repo, "add", "-A")
	gittest.Run(t, repo, "commit", "-q", "-m", "second")

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
