package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparkcd/sparkcd/internal/gittest"
)

// TestEmptyPath (issue 18, item 2): a PATH that does not exist, an empty
// directory, an empty file, or files of no Kubernetes object fail render,
// check and diff with exit 2 and a message naming the path, unless
// --allow-empty; a path of supporting objects alone stays valid.
func TestEmptyPath(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("empty.yaml", "")
	write("comments/notes.yaml", "# nothing here yet\n")
	write("configs/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: conf, namespace: spark}\ndata: {a: b}\n")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{name: "missing", args: []string{"check", "deploy/default"}, wantCode: 2, wantStderr: "PATH 'deploy/default' does not exist: check the path"},
		{name: "empty dir", args: []string{"check", "empty"}, wantCode: 2, wantStderr: "PATH 'empty' holds no SparkJob and no supporting object (an empty directory): check the path"},
		{name: "empty file", args: []string{"check", "empty.yaml"}, wantCode: 2, wantStderr: "(an empty file)"},
		{name: "comments only", args: []string{"check", "comments"}, wantCode: 2, wantStderr: "(a directory of no Kubernetes object)"},
		{name: "render empty", args: []string{"render", "empty"}, wantCode: 2, wantStderr: "holds no SparkJob"},
		{name: "json empty", args: []string{"check", "empty", "-o", "json"}, wantCode: 2, wantStderr: "holds no SparkJob"},
		{name: "allow empty", args: []string{"check", "empty", "--allow-empty"}, wantCode: 0},
		{name: "render allow empty", args: []string{"render", "empty.yaml", "--allow-empty"}, wantCode: 0},
		{name: "supporting only", args: []string{"check", "configs"}, wantCode: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := sparkcd(t, dir, tt.args...)
			if code != tt.wantCode || !strings.Contains(errOut, tt.wantStderr) {
				t.Errorf("exit %d, want %d; stderr %q does not say %q\nstdout:\n%s", code, tt.wantCode, errOut, tt.wantStderr, out)
			}
		})
	}
}

// TestDiffEmptyPath: diff of a path that holds nothing at either revision
// exits 2; a path that only one side holds is a change, not an error.
func TestDiffEmptyPath(t *testing.T) {
	repo := gittest.NewRepo(t)
	repo.WriteFile(t, "README", "jobs to come\n")
	repo.Commit(t, "empty")
	repo.WriteFile(t, "jobs/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: conf, namespace: spark}\n")
	repo.Commit(t, "a config")
	if code, out, errOut := sparkcd(t, repo.Work, "diff", "--from", "HEAD~1", "--to", "HEAD~1", "."); code != 2 || !strings.Contains(errOut, "PATH '.' holds no SparkJob") {
		t.Errorf("diff of a path empty at both sides: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := sparkcd(t, repo.Work, "diff", "--from", "HEAD~1", "--to", "HEAD~1", ".", "--allow-empty"); code != 0 {
		t.Errorf("diff --allow-empty: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := sparkcd(t, repo.Work, "diff", "--from", "HEAD~1", "."); code != 0 || !strings.Contains(out, "1 added") && !strings.Contains(out, "0 added") {
		t.Errorf("diff of a path empty at the old side only: exit %d\n%s%s", code, out, errOut)
	}
}
