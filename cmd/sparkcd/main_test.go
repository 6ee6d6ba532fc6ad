package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// testdataDir is absolute: the tests change directory to run the CLI.
var testdataDir = func() string {
	d, err := filepath.Abs("testdata")
	if err != nil {
		panic(err)
	}
	return d
}()

// repoRoot is the module root, where jobs/examples lives.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// sparkcd runs the CLI in-process from dir and returns its exit code and
// output.
func sparkcd(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	t.Chdir(dir)
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(testdataDir, name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run 'go test ./cmd/sparkcd -update' to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got); if intended, run 'go test ./cmd/sparkcd -update':\n%s", path, diff)
	}
}

// TestRenderExamples renders every example overlay and compares it with its
// golden file: the exact objects a run of each example job creates.
func TestRenderExamples(t *testing.T) {
	root := repoRoot(t)
	for _, overlay := range []string{"dev", "prod"} {
		t.Run(overlay, func(t *testing.T) {
			code, out, errOut := sparkcd(t, root, "render", "jobs/examples/overlays/"+overlay)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden(t, "render-"+overlay+".golden.yaml", out)
		})
	}
	t.Run("prod-policies", func(t *testing.T) {
		code, out, errOut := sparkcd(t, root, "render", "jobs/examples/overlays/prod", "--policies", "policies/testdata/examples")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		golden(t, "render-prod-policies.golden.yaml", out)
	})
	t.Run("base", func(t *testing.T) {
		code, out, errOut := sparkcd(t, root, "render", "jobs/examples/base")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		golden(t, "render-base.golden.yaml", out)
	})
}

func TestCheckExamples(t *testing.T) {
	root := repoRoot(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
	}{
		{name: "prod", args: []string{"check", "jobs/examples/overlays/prod"}},
		{name: "prod-json", args: []string{"check", "jobs/examples/overlays/prod", "-o", "json"}},
		{name: "dev", args: []string{"check", "jobs/examples/overlays/dev"}},
		{name: "prod-policies", args: []string{"check", "jobs/examples/overlays/prod", "--policies", "policies/testdata/examples"}},
		{name: "dev-policies-markdown", args: []string{"check", "jobs/examples/overlays/dev", "--policies", "policies/testdata/examples", "-o", "markdown"}},
		{name: "dev-policies-github", args: []string{"check", "jobs/examples/overlays/dev", "--policies", "policies/testdata/examples", "-o", "github"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := sparkcd(t, root, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d: %s%s", code, tt.wantCode, out, errOut)
			}
			golden(t, "check-"+tt.name+".golden", out)
		})
	}
}

func TestExitCodes(t *testing.T) {
	root := repoRoot(t)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{name: "no args", args: []string{"render"}, wantCode: 2, wantStderr: "accepts 1 arg"},
		{name: "unknown flag", args: []string{"check", "--nope", "x"}, wantCode: 2, wantStderr: "unknown flag"},
		{name: "missing path", args: []string{"check", "does/not/exist"}, wantCode: 2, wantStderr: "does/not/exist"},
		{name: "bad format", args: []string{"check", "jobs/examples/overlays/dev", "-o", "xml"}, wantCode: 2, wantStderr: "xml"},
		{name: "unknown job", args: []string{"render", "jobs/examples/overlays/dev", "--job", "nope"}, wantCode: 2, wantStderr: "nope"},
		{name: "version", args: []string{"version"}, wantCode: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := sparkcd(t, root, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			if !strings.Contains(errOut, tt.wantStderr) {
				t.Errorf("stderr %q does not mention %q", errOut, tt.wantStderr)
			}
		})
	}
}
