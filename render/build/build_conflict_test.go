package build

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildConflicts: an object defined twice and a patch that matches
// nothing are blamed on the kustomization and its entry (and, for a
// duplicate, the file that defined it first), with no absolute path and
// no kustomize chain (issue 18 item 4).
func TestBuildConflicts(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "build", "layout", "base", "spark-pi", "job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	job := string(data)
	inNs := strings.Replace(job, "name: spark-pi", "name: spark-pi\n  namespace: team-a", 1)
	const patch = "apiVersion: sparkcd.io/v1alpha1\nkind: SparkJob\nmetadata:\n  name: nope\nspec:\n  image: x\n"
	const dupRule = ": an object (kind, namespace, name) may be defined once in a build: remove one, or give them different names"
	const patchRule = ", which is not in this build: check the patch's kind, name and namespace against the resources it builds on"
	tests := []struct {
		name  string
		files map[string]string
		path  string
		want  string
	}{
		{
			name:  "two files of one kustomization",
			files: map[string]string{"k/a.yaml": job, "k/b.yaml": job, "k/kustomization.yaml": "resources:\n- a.yaml\n- b.yaml\n"},
			path:  "k",
			want:  "'k/kustomization.yaml' (building 'k'): resources[1] 'b.yaml' defines SparkJob 'spark-pi', which 'k/a.yaml' already defines" + dupRule,
		},
		{
			name: "a base and the overlay",
			files: map[string]string{"base/job.yaml": inNs, "base/kustomization.yaml": "resources:\n- job.yaml\n",
				"prod/job.yaml": inNs, "prod/kustomization.yaml": "resources:\n- ../base\n- job.yaml\n"},
			path: "prod",
			want: "'prod/kustomization.yaml' (building 'prod'): resources[1] 'job.yaml' defines SparkJob 'team-a/spark-pi', which 'base/job.yaml' already defines" + dupRule,
		},
		{
			name:  "one file twice",
			files: map[string]string{"k/job.yaml": job + "---\n" + job, "k/kustomization.yaml": "resources:\n- job.yaml\n"},
			path:  "k",
			want:  "'k/job.yaml' (building 'k'): SparkJob 'spark-pi' is defined twice in this file" + dupRule,
		},
		{
			name:  "a directory without a kustomization",
			files: map[string]string{"k/a.yaml": job, "k/b.yaml": job},
			path:  "k",
			want:  "'k': 'b.yaml' defines SparkJob 'spark-pi', which 'k/a.yaml' already defines" + dupRule,
		},
		{
			name:  "patch file",
			files: map[string]string{"k/job.yaml": job, "k/patch.yaml": patch, "k/kustomization.yaml": "resources:\n- job.yaml\npatches:\n- path: patch.yaml\n"},
			path:  "k",
			want:  "'k/kustomization.yaml' (building 'k'): patches[0] 'patch.yaml' patches SparkJob 'nope'" + patchRule,
		},
		{
			name: "inline patch in a base",
			files: map[string]string{"base/job.yaml": job, "prod/kustomization.yaml": "resources:\n- ../base\n",
				"base/kustomization.yaml": "resources:\n- job.yaml\npatches:\n- patch: |-\n" + indent(indent(patch))},
			path: "prod",
			want: "'base/kustomization.yaml' (building 'prod'): patches[0] patches SparkJob 'nope'" + patchRule,
		},
		{
			name:  "patchesStrategicMerge",
			files: map[string]string{"k/job.yaml": job, "k/p.yaml": patch, "k/kustomization.yaml": "resources:\n- job.yaml\npatchesStrategicMerge:\n- p.yaml\n"},
			path:  "k",
			want:  "'k/kustomization.yaml' (building 'k'): patchesStrategicMerge[0] 'p.yaml' patches SparkJob 'nope'" + patchRule,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assertOneBuildError(t, tt.files, tt.path, tt.want) })
	}
}

// assertOneBuildError builds path in a tree of files: one error, want,
// an ErrKustomize, with no absolute path and no kustomize chain.
func assertOneBuildError(t *testing.T, files map[string]string, path, want string) {
	t.Helper()
	root := t.TempDir()
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Build(t.Context(), root, path, DefaultBuildOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 1 {
		t.Fatalf("errors %v, want one", res.Errors)
	}
	got := res.Errors[0]
	if got.Error() != want {
		t.Errorf("error\n got %q\nwant %q", got.Error(), want)
	}
	if !errors.Is(got, ErrKustomize) {
		t.Errorf("error %v is not ErrKustomize", got)
	}
	if strings.Contains(got.Error(), root) || strings.Contains(got.Error(), "accumulat") {
		t.Errorf("error %q shows the absolute root or kustomize's chain", got)
	}
}

// TestDuplicateJobMessage: a job built by two units names the other unit
// in a closed bracket (issue 18 item 4: "(built from '…'" lost its ")").
func TestDuplicateJobMessage(t *testing.T) {
	res, err := Build(t.Context(), filepath.Join("testdata", "decode", "duplicate-job"), "overlays/*", DefaultBuildOptions())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range res.Jobs {
		for _, f := range j.Findings {
			if f.Rule == RuleDuplicateJob {
				got = append(got, f.Message)
			}
		}
	}
	want := []string{
		"job 'spark/spark-pi' is also defined in 'base/job.yaml' (built from 'overlays/b')",
		"job 'spark/spark-pi' is also defined in 'base/job.yaml' (built from 'overlays/a')",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("duplicate-job messages\n got %q\nwant %q", got, want)
	}
}
