package gitsource

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sparkcd/sparkcd/internal/gittest"
)

// TestExportChange checks, for every ordered pair of commits of a history
// that adds, changes, removes, renames, makes executable and swaps files,
// directories and symbolic links, that Export of the first followed by
// ExportChange to the second leaves exactly what Export of the second
// writes: the same files, modes, links and directories (no empty ones
// left behind), and nothing outside the checkout.
func TestExportChange(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("the git binary is required for this test (apt-get install git): %v", err)
	}
	repo := t.TempDir()
	gittest.Run(t, repo, "init", "-q", "-b", "main")
	outside := t.TempDir()
	steps := []func(){
		func() {
			writeRepoFile(t, repo, "jobs/a/job.yaml", "one\n", 0o644)
			writeRepoFile(t, repo, "jobs/b/deep/x.yaml", "x\n", 0o644)
			symlink(t, outside, filepath.Join(repo, "jobs/c"))
		},
		func() {
			writeRepoFile(t, repo, "jobs/a/job.yaml", "two\n", 0o755)
			must(t, os.RemoveAll(filepath.Join(repo, "jobs/b")))
			must(t, os.Remove(filepath.Join(repo, "jobs/c")))
			writeRepoFile(t, repo, "jobs/c/job.yaml", "was a link\n", 0o644)
		},
		func() {
			must(t, os.Rename(filepath.Join(repo, "jobs/a"), filepath.Join(repo, "jobs/renamed")))
			must(t, os.RemoveAll(filepath.Join(repo, "jobs/c")))
			writeRepoFile(t, repo, "jobs/c", "now a file\n", 0o644)
			symlink(t, "renamed/job.yaml", filepath.Join(repo, "jobs/link.yaml"))
		},
	}
	var revs []string
	for i, step := range steps {
		step()
		gittest.Run(t, repo, "add", "-A")
		gittest.Run(t, repo, "commit", "-q", "-m", fmt.Sprintf("step %d", i))
		revs = append(revs, gittest.Run(t, repo, "rev-parse", "HEAD"))
	}
	for _, from := range revs {
		for _, to := range revs {
			t.Run(from[:7]+"→"+to[:7], func(t *testing.T) {
				want := t.TempDir()
				if _, err := Export(repo, to, want); err != nil {
					t.Fatal(err)
				}
				dst := t.TempDir()
				fromRev, err := Export(repo, from, dst)
				if err != nil {
					t.Fatal(err)
				}
				rev, err := ExportChange(repo, fromRev, to, dst)
				if err != nil {
					t.Fatal(err)
				}
				if rev.Hash.String() != to {
					t.Errorf("revision = %s, want %s", rev, to)
				}
				if diff := cmp.Diff(listTree(t, want), listTree(t, dst)); diff != "" {
					t.Errorf("tree after ExportChange (-Export +ExportChange):\n%s", diff)
				}
				if entries, _ := os.ReadDir(outside); len(entries) > 0 {
					t.Errorf("wrote outside the checkout: %v", entries)
				}
			})
		}
	}
}

func writeRepoFile(t *testing.T, repo, name, content string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(repo, name)
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, []byte(content), mode))
	must(t, os.Chmod(p, mode))
}

func symlink(t *testing.T, target, p string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.Symlink(target, p))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// listTree describes every entry below dir: directories, files with their
// content and executable bit, links with their target.
func listTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case info.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			got[rel] = "-> " + l
		case info.IsDir():
			got[rel] = "dir"
		default:
			b, err := os.ReadFile(p)
			got[rel] = fmt.Sprintf("%q exec=%t", b, info.Mode()&0o100 != 0)
			return err
		}
		return nil
	})
	must(t, err)
	return got
}
