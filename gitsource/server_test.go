package gitsource

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sparkcd/sparkcd/internal/gittest"
)

// upstream is the test repository: gittest's bare repository and work
// clone, with the one file these tests change.
type upstream struct {
	*gittest.Repo
	root, work string
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	r := gittest.NewRepo(t)
	return &upstream{Repo: r, root: r.Root, work: r.Work}
}

// commit writes job.yaml with content, commits it and returns the hash.
func (u *upstream) commit(t *testing.T, content string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(u.work, "job.yaml"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return u.Commit(t, content)
}

func (u *upstream) git(t *testing.T, args ...string) string {
	t.Helper()
	return u.Git(t, args...)
}
