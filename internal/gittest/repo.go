package gittest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RepoName is the name of the bare repository under Repo.Root, and so the
// last element of every server's URL path.
const RepoName = "jobs.git"

// Binary returns the path of the real git binary, failing the test when it
// is missing: these tests exist to run against real git.
func Binary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("the git binary is required for this test (apt-get install git): %v", err)
	}
	return p
}

// Run runs git in dir with a fixed identity and no user or system
// configuration, and returns its trimmed output.
func Run(t testing.TB, dir string, args ...string) string {
	t.Helper()
	return runEnv(t, dir, nil, args...)
}

// runEnv is Run with more environment variables.
func runEnv(t testing.TB, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(Binary(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// Repo is a bare repository (Root/jobs.git) that the servers serve, and a
// work clone (Work) on branch main that the test commits and pushes from.
type Repo struct {
	Root string
	Work string
}

// NewRepo creates an empty bare repository and its work clone in
// temporary directories.
func NewRepo(t testing.TB) *Repo {
	t.Helper()
	r := &Repo{Root: t.TempDir(), Work: t.TempDir()}
	Run(t, r.Root, "init", "-q", "--bare", "-b", "main", RepoName)
	Run(t, r.Work, "init", "-q", "-b", "main")
	Run(t, r.Work, "remote", "add", "origin", filepath.Join(r.Root, RepoName))
	return r
}

// Git runs git in the work clone.
func (r *Repo) Git(t testing.TB, args ...string) string {
	t.Helper()
	return Run(t, r.Work, args...)
}

// WriteFile writes content to the slash-separated path in the work clone,
// creating its directories.
func (r *Repo) WriteFile(t testing.TB, path, content string) {
	t.Helper()
	p := filepath.Join(r.Work, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Remove deletes the slash-separated path, a file or a directory, from the
// work clone.
func (r *Repo) Remove(t testing.TB, path string) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(r.Work, filepath.FromSlash(path))); err != nil {
		t.Fatal(err)
	}
}

// Commit stages everything in the work clone, commits it with message
// and returns the commit's hash. It commits even when nothing changed.
func (r *Repo) Commit(t testing.TB, message string) string {
	t.Helper()
	r.Git(t, "add", "-A")
	r.Git(t, "commit", "-q", "--allow-empty", "-m", message)
	return r.Git(t, "rev-parse", "HEAD")
}

// Push pushes main to the bare repository, forced, so a rewritten history
// is served as it is.
func (r *Repo) Push(t testing.TB) {
	t.Helper()
	r.Git(t, "push", "-q", "-f", "origin", "main")
}

// CommitAndPush commits and pushes, and returns the commit's hash.
func (r *Repo) CommitAndPush(t testing.TB, message string) string {
	t.Helper()
	h := r.Commit(t, message)
	r.Push(t)
	return h
}
