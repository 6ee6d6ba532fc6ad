package build

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// perJobRepo lays out n jobs, one base and one prod overlay each.
func perJobRepo(t testing.TB, n int) string {
	root := t.TempDir()
	files := map[string]string{}
	for i := range n {
		job := fmt.Sprintf("job-%03d", i)
		files["jobs/"+job+"/base/kustomization.yaml"] = "resources:\n- job.yaml\n"
		files["jobs/"+job+"/base/job.yaml"] = fmt.Sprintf(
			"apiVersion: sparkcd.io/v1alpha1\nkind: SparkJob\nmetadata: {name: %s}\nspec: {type: Python, mainApplicationFile: local:///%s.py, executor: {instances: 1}}\n", job, job)
		files["jobs/"+job+"/overlays/prod/kustomization.yaml"] = "namespace: prod\nresources:\n- ../../base\n"
	}
	writeFiles(t, root, files)
	return root
}

// age sets every file's timestamps in the past, out of the racy window, as
// a checkout made a while ago.
func age(t testing.TB, root string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	err := filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, old, old)
	})
	if err != nil {
		t.Fatal(err)
	}
}

type cacheStep struct {
	name       string
	change     func(t *testing.T, root string)
	wantMisses int64
	check      func(t *testing.T, res *BuildResult)
}

func runCacheSteps(t *testing.T, root, path string, steps []cacheStep) {
	t.Helper()
	cache := NewCache()
	opts := DefaultBuildOptions()
	opts.Cache = cache
	for _, step := range steps {
		if step.change != nil {
			step.change(t, root)
		}
		before := cache.misses.Load()
		res, err := Build(t.Context(), root, path, opts)
		if err != nil {
			t.Fatalf("%s: Build: %v", step.name, err)
		}
		if got := cache.misses.Load() - before; got != step.wantMisses {
			t.Errorf("%s: %d units rebuilt, want %d", step.name, got, step.wantMisses)
		}
		if step.check != nil {
			step.check(t, res)
		}
	}
}

func instances(t *testing.T, res *BuildResult, name string) int32 {
	t.Helper()
	for _, j := range res.Jobs {
		if j.Name == name {
			return *j.Object.Spec.Executor.Instances
		}
	}
	t.Fatalf("no job %q", name)
	return 0
}

func TestCachePerJobLayout(t *testing.T) {
	root := perJobRepo(t, 12)
	age(t, root)
	write := func(rel, content string) func(*testing.T, string) {
		return func(t *testing.T, root string) { writeFiles(t, root, map[string]string{rel: content}) }
	}
	job3 := "apiVersion: sparkcd.io/v1alpha1\nkind: SparkJob\nmetadata: {name: job-003}\nspec: {type: Python, mainApplicationFile: local:///job-003.py, executor: {instances: %d}}\n"
	runCacheSteps(t, root, "jobs/*/overlays/prod", []cacheStep{
		{name: "cold", wantMisses: 12},
		{name: "nothing changed", wantMisses: 0},
		{
			name: "one job file changed", change: write("jobs/job-003/base/job.yaml", fmt.Sprintf(job3, 7)), wantMisses: 1,
			check: func(t *testing.T, res *BuildResult) {
				if got := instances(t, res, "job-003"); got != 7 {
					t.Errorf("instances %d, want 7", got)
				}
			},
		},
		{
			// Same size, same second: only the content hash can tell.
			name: "changed again at once, same size", change: write("jobs/job-003/base/job.yaml", fmt.Sprintf(job3, 8)), wantMisses: 1,
			check: func(t *testing.T, res *BuildResult) {
				if got := instances(t, res, "job-003"); got != 8 {
					t.Errorf("instances %d, want 8", got)
				}
			},
		},
		{name: "rewritten with the same content", change: write("jobs/job-003/base/job.yaml", fmt.Sprintf(job3, 8)), wantMisses: 0},
		{name: "a file no build reads", change: write("jobs/README.md", "# jobs\n"), wantMisses: 0},
		{
			name:   "a kustomization added beside the overlay's (kustomize would refuse two)",
			change: write("jobs/job-005/overlays/prod/kustomization.yml", "resources: []\n"), wantMisses: 1,
			check: func(t *testing.T, res *BuildResult) {
				if len(res.Errors) != 1 {
					t.Errorf("got %d unit errors, want 1", len(res.Errors))
				}
			},
		},
		{
			name: "the extra kustomization removed",
			change: func(t *testing.T, root string) {
				if err := os.Remove(filepath.Join(root, "jobs/job-005/overlays/prod/kustomization.yml")); err != nil {
					t.Fatal(err)
				}
			},
			wantMisses: 1,
		},
		{
			name: "a new job", change: func(t *testing.T, root string) {
				writeFiles(t, root, map[string]string{
					"jobs/job-100/base/kustomization.yaml":          "resources:\n- job.yaml\n",
					"jobs/job-100/base/job.yaml":                    fmt.Sprintf(job3, 1),
					"jobs/job-100/overlays/prod/kustomization.yaml": "namespace: other\nresources:\n- ../../base\n",
				})
			},
			wantMisses: 1,
		},
	})
}

func TestCachePlainDirAndSymlinks(t *testing.T) {
	root := t.TempDir()
	job := "apiVersion: sparkcd.io/v1alpha1\nkind: SparkJob\nmetadata: {name: %s}\nspec: {type: R, mainApplicationFile: a.R, executor: {instances: %d}}\n"
	writeFiles(t, root, map[string]string{
		"plain/a.yaml":              fmt.Sprintf(job, "a", 1),
		"shared/v1/job.yaml":        fmt.Sprintf(job, "s", 1),
		"shared/v2/job.yaml":        fmt.Sprintf(job, "s", 2),
		"linked/kustomization.yaml": "resources:\n- current/job.yaml\n",
	})
	if err := os.Symlink("../shared/v1", filepath.Join(root, "linked", "current")); err != nil {
		t.Fatal(err)
	}
	age(t, root)
	runCacheSteps(t, root, "[lp]*", []cacheStep{
		{name: "cold", wantMisses: 2},
		{name: "nothing changed", wantMisses: 0},
		{
			name: "a file added to the plain directory",
			change: func(t *testing.T, root string) {
				writeFiles(t, root, map[string]string{"plain/sub/b.yaml": fmt.Sprintf(job, "b", 1)})
			},
			wantMisses: 1,
			check: func(t *testing.T, res *BuildResult) {
				if len(res.Jobs) != 3 {
					t.Errorf("got %d jobs, want 3", len(res.Jobs))
				}
			},
		},
		{
			name: "a symbolic link retargeted",
			change: func(t *testing.T, root string) {
				link := filepath.Join(root, "linked", "current")
				if err := os.Remove(link); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink("../shared/v2", link); err != nil {
					t.Fatal(err)
				}
			},
			wantMisses: 1,
			check: func(t *testing.T, res *BuildResult) {
				if got := instances(t, res, "s"); got != 2 {
					t.Errorf("instances %d, want 2", got)
				}
			},
		},
		{
			name: "a symbolic link pointed outside the root",
			change: func(t *testing.T, root string) {
				link := filepath.Join(root, "linked", "current")
				if err := os.Remove(link); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(t.TempDir(), link); err != nil {
					t.Fatal(err)
				}
			},
			wantMisses: 1,
			check: func(t *testing.T, res *BuildResult) {
				if len(res.Errors) != 1 {
					t.Errorf("got %d unit errors, want 1", len(res.Errors))
				}
			},
		},
	})
}

func TestCacheResultsAreCopies(t *testing.T) {
	root := perJobRepo(t, 2)
	opts := DefaultBuildOptions()
	opts.Cache = NewCache()
	for range 3 {
		res, err := Build(t.Context(), root, "jobs/*/overlays/prod", opts)
		if err != nil || len(res.Jobs) != 2 {
			t.Fatalf("Build: %v, %d jobs", err, len(res.Jobs))
		}
		for _, j := range res.Jobs {
			if got := *j.Object.Spec.Executor.Instances; got != 1 {
				t.Fatalf("instances %d: a caller's change leaked into the cache", got)
			}
			*j.Object.Spec.Executor.Instances = 99
			j.Object.Labels = map[string]string{"changed": "yes"}
		}
	}
}

func TestCacheNewCheckoutSameContent(t *testing.T) {
	first := perJobRepo(t, 5)
	second := copyTree(t, first)
	opts := DefaultBuildOptions()
	opts.Cache = NewCache()
	if _, err := Build(t.Context(), first, "jobs/*/overlays/prod", opts); err != nil {
		t.Fatal(err)
	}
	before := opts.Cache.misses.Load()
	res, err := Build(t.Context(), second, "jobs/*/overlays/prod", opts)
	if err != nil || len(res.Jobs) != 5 {
		t.Fatalf("Build: %v, %d jobs", err, len(res.Jobs))
	}
	if got := opts.Cache.misses.Load() - before; got != 0 {
		t.Errorf("%d units rebuilt in an identical checkout, want 0", got)
	}
}
