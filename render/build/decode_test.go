package build

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// copyTree copies the test case directory src into a fresh temporary root,
// so a case may add symbolic links without touching testdata.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// outsideRoot makes a file (a Secret) or an empty directory named name
// outside any source root, for a symlink to point at.
func outsideRoot(t *testing.T, name string, dir bool) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if dir {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := os.WriteFile(p, []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: stolen\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// decodeCase is one case of TestDecodeCorpus.
type decodeCase struct {
	name     string
	path     string
	setup    func(t *testing.T, root string)
	wantErr  error
	errFile  string
	findings []string
	decoded  bool // the job's Object is set despite its findings
}

// decodeCases name the inputs under testdata/decode: jobs that decode with
// findings, and units that fail (kustomize errors, remote bases, paths
// and symlinks out of the root, exec plugins).
func decodeCases() []decodeCase {
	return []decodeCase{
		{name: "unknown-field", findings: []string{"spark-pi error unknown-field spec.driver.memroy"}, decoded: true},
		{name: "wrong-type", findings: []string{"spark-pi error invalid-type spec.driver.cores"}, decoded: true},
		{name: "invalid-value", findings: []string{"spark-pi error invalid-value spec.dynamicAllocation.executorIdleTimeout"}, decoded: true},
		{name: "wrong-type-in-list", findings: []string{"spark-pi error invalid-value spec.volumes[1].emptyDir.sizeLimit"}, decoded: true},
		{name: "spec-not-object", findings: []string{"spark-pi error invalid-type spec"}, decoded: true},
		// kustomize itself refuses an object without a name; Decode (one
		// file, no kustomize) makes it a finding: see TestDecodeStream.
		{name: "missing-name", wantErr: ErrKustomize, errFile: "job.yaml"},
		{name: "bad-apiversion", findings: []string{"spark-pi error unknown-kind apiVersion"}},
		{name: "operator-v1beta1", findings: []string{"spark-pi-old error unknown-kind apiVersion"}},
		{name: "operator-unknown-field", findings: []string{"spark-pi error unknown-field spec.executor.instancez"}, decoded: true},
		{name: "scheduled-unknown-field", findings: []string{"spark-pi-scheduled error unknown-field spec.template.driver.memroy"}, decoded: true},
		{name: "client-mode", findings: []string{"spark-pi-client error unsupported-field spec.mode"}, decoded: true},
		{
			name:    "operator-unsupported",
			decoded: true,
		},
		{
			name: "duplicate-job",
			path: "overlays/*",
			findings: []string{
				"spark-pi error duplicate-job metadata.name",
				"spark-pi error duplicate-job metadata.name",
			},
			decoded: true,
		},
		{name: "bad-yaml", wantErr: ErrKustomize, errFile: "job.yaml"},
		{name: "remote-base", wantErr: ErrRemoteBase, errFile: "kustomization.yaml"},
		{name: "remote-http", wantErr: ErrRemoteBase, errFile: "kustomization.yaml"},
		{name: "path-escape", path: "overlays/prod", wantErr: ErrOutsideRoot, errFile: "overlays/prod/kustomization.yaml"},
		{name: "absolute-path", wantErr: ErrOutsideRoot, errFile: "kustomization.yaml"},
		{
			name: "symlink-out",
			setup: func(t *testing.T, root string) {
				if err := os.Symlink(outsideRoot(t, "secret.yaml", false), filepath.Join(root, "job.yaml")); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: ErrOutsideRoot, errFile: "kustomization.yaml",
		},
		{
			name: "symlink-dir-out",
			setup: func(t *testing.T, root string) {
				if err := os.Symlink(outsideRoot(t, "base", true), filepath.Join(root, "base")); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: ErrOutsideRoot, errFile: "kustomization.yaml",
		},
		{name: "exec-plugin", wantErr: ErrKustomize, errFile: "exec-plugin/generator.yaml"},
	}
}

// TestDecodeCorpus builds every malformed or invalid input under
// testdata/decode and checks the error or the findings it yields.
func TestDecodeCorpus(t *testing.T) {
	for _, tt := range decodeCases() {
		t.Run(tt.name, func(t *testing.T) {
			root := copyTree(t, filepath.Join("testdata", "decode", tt.name))
			if tt.setup != nil {
				tt.setup(t, root)
			}
			path := tt.path
			if path == "" {
				path = "."
			}
			res, err := Build(t.Context(), root, path, DefaultBuildOptions())
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if tt.wantErr != nil {
				if len(res.Errors) != 1 {
					t.Fatalf("got %d unit errors (%v), want 1", len(res.Errors), res.Errors)
				}
				berr := res.Errors[0]
				if !errors.Is(berr, tt.wantErr) {
					t.Errorf("error %v, want %v", berr, tt.wantErr)
				}
				if berr.File != strings.TrimPrefix(tt.errFile, tt.name+"/") {
					t.Errorf("error names file %q, want %q (%v)", berr.File, tt.errFile, berr)
				}
				if !strings.Contains(berr.Error(), berr.File) {
					t.Errorf("message %q does not name %q", berr.Error(), berr.File)
				}
				return
			}
			if len(res.Errors) > 0 {
				t.Fatalf("unit errors: %v", res.Errors)
			}
			if diff := cmp.Diff(tt.findings, findingRules(res.Jobs)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			for _, j := range res.Jobs {
				if (j.Object != nil) != tt.decoded {
					t.Errorf("job %q decoded = %t, want %t", j.Name, j.Object != nil, tt.decoded)
				}
				for _, f := range j.Findings {
					if f.Field != "" && !strings.Contains(f.Message, f.Field) && f.Rule != RuleDuplicateJob {
						t.Errorf("finding message %q does not name field %q", f.Message, f.Field)
					}
				}
			}
		})
	}
}

func TestDecodeMessages(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{
			name: "unknown field suggests the close one",
			doc:  "apiVersion: sparkcd.io/v1alpha1\nkind: SparkJob\nmetadata: {name: a}\nspec: {type: Scala, driver: {memroy: 1g}}\n",
			want: "unknown field 'spec.driver.memroy' (did you mean 'memory'?)",
		},
		{
			name: "wrong type names both types",
			doc:  "apiVersion: sparkcd.io/v1alpha1\nkind: SparkJob\nmetadata: {name: a}\nspec: {type: Scala, executor: {instances: many}}\n",
			want: "'spec.executor.instances' must be an integer, not a string",
		},
		{
			name: "a fraction for an integer",
			doc:  "apiVersion: sparkcd.io/v1alpha1\nkind: SparkJob\nmetadata: {name: a}\nspec: {type: Scala, dynamicAllocation: {maxExecutors: 1.5}}\n",
			want: "'spec.dynamicAllocation.maxExecutors' must be an integer, not the number 1.5",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jobs, err := Decode([]byte(tt.doc), Origin{File: "job.yaml"})
			if err != nil {
				t.Fatal(err)
			}
			if len(jobs) != 1 || len(jobs[0].Findings) != 1 {
				t.Fatalf("got %+v, want one job with one finding", jobs)
			}
			if got := jobs[0].Findings[0].Message; got != tt.want {
				t.Errorf("message %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDecodeStream(t *testing.T) {
	tests := []struct {
		name     string
		data     string
		want     []string
		findings []string
		wantErr  bool
	}{
		{name: "empty", data: ""},
		{name: "comments and separators only", data: "# nothing\n---\n---\n"},
		{
			name: "jobs among other objects",
			data: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n" +
				"apiVersion: sparkcd.io/v1alpha1\nkind: SparkJob\nmetadata: {name: a, namespace: x}\nspec: {type: R, mainApplicationFile: a.R}\n",
			want: []string{"x/a f.yaml  SparkJob"},
		},
		{
			name:     "missing name",
			data:     "apiVersion: sparkcd.io/v1alpha1\nkind: SparkJob\nmetadata: {labels: {a: b}}\nspec: {type: R, mainApplicationFile: a.R}\n",
			want:     []string{"/ f.yaml  SparkJob"},
			findings: []string{" error missing-name metadata.name"},
		},
		{name: "not YAML", data: "a: [b\n", wantErr: true},
		{name: "a list, not an object", data: "- a\n- b\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jobs, err := Decode([]byte(tt.data), Origin{File: "f.yaml"})
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %t", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			if diff := cmp.Diff(tt.want, jobLines(jobs)); diff != "" {
				t.Errorf("jobs (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.findings, findingRules(jobs)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}
