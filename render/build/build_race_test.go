package build

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writeFiles writes files (path → content) below root.
func writeFiles(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// sharedBaseRepo lays out n overlays over one shared base and one shared
// component, each overlay using most of kustomize's transformers, and one
// overlay setting a custom OpenAPI schema (kyaml global state).
func sharedBaseRepo(t testing.TB, n int) string {
	root := t.TempDir()
	files := map[string]string{
		"base/kustomization.yaml": "resources:\n- job.yaml\n- settings.yaml\nlabels:\n- pairs: {team: data}\n",
		"base/job.yaml": `apiVersion: sparkcd.io/v1alpha1
kind: SparkJob
metadata:
  name: job
spec:
  type: Scala
  image: spark:3.5.3
  mainClass: Main
  mainApplicationFile: local:///app.jar
  sparkConfigMap: settings
  driver: {cores: 1, memory: 1g}
  executor: {instances: 1, memory: 1g}
`,
		"base/settings.yaml":                  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: b}\n",
		"components/prod/kustomization.yaml":  "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n- target: {kind: SparkJob}\n  patch: |-\n    - op: add\n      path: /spec/logLevel\n      value: ERROR\n",
		"overlays/openapi/kustomization.yaml": "openapi:\n  path: schema.json\nresources:\n- ../../base\nnamePrefix: openapi-\n",
		"overlays/openapi/schema.json":        `{"definitions": {}}`,
	}
	for i := range n {
		dir := fmt.Sprintf("overlays/o%03d", i)
		files[dir+"/kustomization.yaml"] = fmt.Sprintf(`namespace: ns-%[1]d
namePrefix: p%[1]d-
resources:
- ../../base
components:
- ../../components/prod
images:
- name: spark
  newTag: "4.0.%[1]d"
configMapGenerator:
- name: extra
  literals: [n=%[1]d]
patches:
- path: patch.yaml
replacements:
- source: {kind: ConfigMap, name: extra, fieldPath: metadata.name}
  targets:
  - select: {kind: SparkJob}
    fieldPaths: [spec.hadoopConfigMap]
    options: {create: true}
`, i)
		files[dir+"/patch.yaml"] = fmt.Sprintf("apiVersion: sparkcd.io/v1alpha1\nkind: SparkJob\nmetadata: {name: job}\nspec:\n  executor: {instances: %d}\n", i+1)
	}
	writeFiles(t, root, files)
	return root
}

// TestBuildParallelRace builds many overlays sharing a base and a
// component on many goroutines, twice, with an OpenAPI-setting unit among
// them; run it with -race. Results must equal a one-goroutine build.
func TestBuildParallelRace(t *testing.T) {
	const n = 24
	root := sharedBaseRepo(t, n)
	summary := func(res *BuildResult) []string {
		var out []string
		for _, j := range res.Jobs {
			s := j.Object.Spec
			out = append(out, fmt.Sprintf("%s/%s %s %s %d %s %v", j.Namespace, j.Name, j.Origin.File, *s.Image,
				*s.Executor.Instances, s.LogLevel, refString(s.HadoopConfigMap)))
		}
		return out
	}
	opts := DefaultBuildOptions()
	opts.Parallelism = 1
	seq, err := Build(t.Context(), root, "overlays/*", opts)
	if err != nil || len(seq.Errors) > 0 {
		t.Fatalf("sequential build: %v %v", err, seq.Errors)
	}
	if len(seq.Jobs) != n+1 {
		t.Fatalf("got %d jobs, want %d", len(seq.Jobs), n+1)
	}
	for _, want := range []string{
		"default/openapi-job base/job.yaml spark:3.5.3 1  <nil>",
		"ns-0/p0-job base/job.yaml spark:3.5.3 1 ERROR p0-extra",
		"ns-23/p23-job base/job.yaml spark:3.5.3 24 ERROR p23-extra",
	} {
		found := false
		for _, got := range summary(seq) {
			found = found || len(got) >= len(want) && got[:len(want)] == want
		}
		if !found {
			t.Errorf("no job %q in %v", want, summary(seq))
		}
	}
	opts.Parallelism = 8
	for round := range 2 {
		par, err := Build(t.Context(), root, "overlays/*", opts)
		if err != nil || len(par.Errors) > 0 {
			t.Fatalf("parallel build %d: %v %v", round, err, par.Errors)
		}
		if diff := cmp.Diff(summary(seq), summary(par)); diff != "" {
			t.Errorf("parallel build %d differs (-sequential +parallel):\n%s", round, diff)
		}
	}
}

func refString(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
