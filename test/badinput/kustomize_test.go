package badinput

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparkcd/sparkcd/render/build"
)

// badUnit is one invalid unit: a kustomization directory of
// testdata/kustomize copied to jobs/bad, or files the test makes itself
// (symbolic links, huge files), and the build error it must give.
type badUnit struct {
	name string
	// setup, when set, makes the unit in jobs/bad of root; otherwise the
	// directory testdata/kustomize/<name> is copied there.
	setup func(t *testing.T, root string)
	// file is the file the error must name; empty where kustomize's error
	// names the file in its message only (see want).
	file  string
	want  string
	errIs error
}

const kust = "jobs/bad/kustomization.yaml"

var badUnits = []badUnit{
	{name: "remote-base-https", file: kust, want: "resources entry 'https://github.com/example/jobs//base?ref=main' is remote", errIs: build.ErrRemoteBase},
	{name: "remote-base-github", file: kust, want: "resources entry 'github.com/example/jobs/base?ref=v1' is remote", errIs: build.ErrRemoteBase},
	{name: "remote-base-scp", file: kust, want: "resources entry 'git@github.com:example/jobs.git//base' is remote", errIs: build.ErrRemoteBase},
	{name: "remote-http-file", file: kust, want: "patches entry 'http://example.com/patch.yaml' is remote", errIs: build.ErrRemoteBase},
	{name: "path-escape-resource", file: kust, want: "resources entry '../../../../../../../../etc/passwd': '../../../../etc/passwd' is outside the repository root", errIs: build.ErrOutsideRoot},
	{name: "path-escape-base", file: kust, want: "resources entry '../../../../../../../../tmp': '../../..' is outside the repository root", errIs: build.ErrOutsideRoot},
	{name: "absolute-path", file: kust, want: "resources entry '/etc/hostname'", errIs: build.ErrOutsideRoot},
	{name: "path-escape-patch", file: kust, want: "patches entry '../../../../../../../../etc/passwd'", errIs: build.ErrOutsideRoot},
	{name: "path-escape-generator", file: kust, want: "files entry '../../../../../../../../etc/passwd'", errIs: build.ErrOutsideRoot},
	// The kustomization that lists the missing file is blamed, with its
	// entry (issue 18 item 4).
	{name: "missing-resource", file: kust, want: "resources[1]: 'missing.yaml' does not exist", errIs: build.ErrNotFound},
	{name: "malformed-kustomization", file: kust, want: "unable to parse kustomization: malformed YAML: yaml: line 1: did not find expected ',' or ']'", errIs: build.ErrMalformed},
	{name: "unknown-kustomization-field", file: kust, want: `invalid Kustomization: json: unknown field "resourcez"`, errIs: build.ErrKustomize},
	{name: "plugin-generator", file: "jobs/bad/plugin.yaml", want: "external plugins disabled; unable to load external plugin 'Exec'", errIs: build.ErrKustomize},
	{name: "helm-chart", file: kust, want: "must specify --enable-helm", errIs: build.ErrKustomize},
	{name: "self-cycle", file: kust, want: "cycle detected", errIs: build.ErrKustomize},
	{name: "alias-bomb-kustomization", file: kust, want: "excessive YAML aliasing: its aliases expand its 119 nodes", errIs: build.ErrAliasBomb},
	// The patch is the kustomization's, but kustomize reports it after
	// reading the job; the message says what does not apply.
	{name: "bad-patch-target", want: "replace operation does not apply: doc is missing path: /spec/nothere/deeper", errIs: build.ErrKustomize},

	// Made by the test: git and go keep no symbolic links or 64 MiB files
	// in testdata.
	{name: "symlink-file-out", file: "jobs/bad/job.yaml", want: "points to", errIs: build.ErrOutsideRoot, setup: func(t *testing.T, root string) {
		secret := filepath.Join(filepath.Dir(root), "outside.yaml")
		writeFile(t, filepath.Dir(root), "outside.yaml", goodJob("stolen"))
		symlink(t, secret, filepath.Join(root, "jobs/bad/job.yaml"))
	}},
	{name: "symlink-resource-out", file: kust, want: "resources entry 'link.yaml': symbolic link 'jobs/bad/link.yaml' points to", errIs: build.ErrOutsideRoot, setup: func(t *testing.T, root string) {
		writeFile(t, filepath.Dir(root), "outside.yaml", goodJob("stolen"))
		writeFile(t, root, kust, "resources: [link.yaml]\n")
		symlink(t, "../../../outside.yaml", filepath.Join(root, "jobs/bad/link.yaml"))
	}},
	{name: "symlink-dir-out", want: "outside the repository root", errIs: build.ErrOutsideRoot, setup: func(t *testing.T, root string) {
		writeFile(t, filepath.Dir(root), "elsewhere/job.yaml", goodJob("stolen"))
		writeFile(t, root, kust, "resources: [base]\n")
		symlink(t, filepath.Join(filepath.Dir(root), "elsewhere"), filepath.Join(root, "jobs/bad/base"))
	}},
	{name: "symlink-to-root-etc", file: "jobs/bad/job.yaml", want: "'/etc/passwd'", errIs: build.ErrOutsideRoot, setup: func(t *testing.T, root string) {
		symlink(t, "/etc/passwd", filepath.Join(root, "jobs/bad/job.yaml"))
	}},
	{name: "symlink-loop", file: kust, want: "resources entry 'a.yaml': too many symbolic links at 'jobs/bad/a.yaml'", setup: func(t *testing.T, root string) {
		writeFile(t, root, kust, "resources: [a.yaml]\n")
		symlink(t, "b.yaml", filepath.Join(root, "jobs/bad/a.yaml"))
		symlink(t, "a.yaml", filepath.Join(root, "jobs/bad/b.yaml"))
	}},
	{name: "huge-file", file: "jobs/bad/job.yaml", want: "file is too large: 67108958 bytes, more than the 16777216 a build reads", errIs: build.ErrTooLarge, setup: func(t *testing.T, root string) {
		writeFile(t, root, "jobs/bad/job.yaml", "apiVersion: sparkcd.io/v1alpha1\nkind: SparkJob\nmetadata: {name: huge}\nspec:\n  arguments: [\""+strings.Repeat("x", 64<<20)+"\"]\n")
	}},
	{name: "deeply-nested", file: "jobs/bad/job.yaml", want: "exceeded max depth of 10000", errIs: build.ErrKustomize, setup: func(t *testing.T, root string) {
		writeFile(t, root, "jobs/bad/job.yaml", "apiVersion: sparkcd.io/v1alpha1\nkind: SparkJob\nmetadata: {name: deep}\nspec: {arguments: "+strings.Repeat("[", 100_000)+strings.Repeat("]", 100_000)+"}\n")
	}},
	{name: "deeply-nested-mapping", file: "jobs/bad/job.yaml", want: "exceeded max depth of 10000", errIs: build.ErrKustomize, setup: func(t *testing.T, root string) {
		writeFile(t, root, "jobs/bad/job.yaml", "apiVersion: sparkcd.io/v1alpha1\nkind: SparkJob\nmetadata: {name: deep}\nspec: "+strings.Repeat("{a: ", 20_000)+"1"+strings.Repeat("}", 20_000)+"\n")
	}},
	{name: "invalid-utf8", file: "jobs/bad/job.yaml", want: "invalid leading UTF-8 octet", errIs: build.ErrKustomize, setup: func(t *testing.T, root string) {
		writeFile(t, root, "jobs/bad/job.yaml", "apiVersion: sparkcd.io/v1alpha1\nkind: SparkJob\nmetadata: {name: \xff\xfe}\n")
	}},
	{name: "nul-bytes", file: "jobs/bad/job.yaml", want: "control characters are not allowed", errIs: build.ErrKustomize, setup: func(t *testing.T, root string) {
		writeFile(t, root, "jobs/bad/job.yaml", "apiVersion: sparkcd.io/v1alpha1\nkind: SparkJob\nmetadata: {name: \"a\x00b\"}\n")
	}},
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// TestBadUnits builds each invalid unit beside the good jobs: exactly its
// unit fails, with an error naming the file and the reason; the good jobs
// are built all the same; nothing from outside the checkout is read.
func TestBadUnits(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range badUnits {
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			root := checkout(t)
			if tc.setup != nil {
				tc.setup(t, root)
			} else {
				copyDir(t, filepath.Join("testdata/kustomize", tc.name), root, "jobs/bad")
			}
			out := buildAndJudge(t, root, nil)
			assertGood(t, out)
			if _, ok := out.jobs["stolen"]; ok {
				t.Errorf("a job from outside the checkout was read")
			}
			if len(out.errors) != 1 {
				t.Fatalf("got %d build errors, want 1: %v; jobs %v", len(out.errors), out.errors, out.jobs)
			}
			be := out.errors[0]
			if be.Unit != "jobs/bad" || tc.file != "" && be.File != tc.file {
				t.Errorf("build error of unit %q file %q, want unit 'jobs/bad' file %q: %v", be.Unit, be.File, tc.file, be)
			}
			if !strings.Contains(be.Error(), tc.want) {
				t.Errorf("build error %q does not say %q", be.Error(), tc.want)
			}
			if tc.errIs != nil && !errorsIs(be, tc.errIs) {
				t.Errorf("build error %v does not wrap %v", be, tc.errIs)
			}
		})
	}
	dirs, err := os.ReadDir("testdata/kustomize")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !seen[d.Name()] {
			t.Errorf("testdata/kustomize/%s has no case in badUnits", d.Name())
		}
	}
}
