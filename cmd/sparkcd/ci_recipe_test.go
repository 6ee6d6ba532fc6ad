package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/internal/gittest"
)

// workflow is the part of a GitHub Actions workflow the recipe uses.
type workflow struct {
	Env  map[string]string `json:"env"`
	Jobs map[string]struct {
		Steps []workflowStep `json:"steps"`
	} `json:"jobs"`
}

type workflowStep struct {
	Name            string            `json:"name"`
	Uses            string            `json:"uses"`
	With            map[string]any    `json:"with"`
	If              string            `json:"if"`
	Env             map[string]string `json:"env"`
	Run             string            `json:"run"`
	ContinueOnError bool              `json:"continue-on-error"`
}

// prRun is one pull request the recipe runs on.
type prRun struct {
	number  int
	baseRef string
	head    string // the branch checked out
}

// TestCIRecipe (issue 18, item 1) runs docs/ci/github-actions.yaml step by
// step as the Actions runner does: bash -e for each run step, `if:` and
// continue-on-error deciding what runs and the job's result, the sparkcd
// built from this tree in place of `go install`, against a real git
// repository holding 200 jobs, for a pull request that breaks a job while
// changing all 200 and one that changes a job cleanly. The comment step
// posts to a local server recording the GitHub API calls.
func TestCIRecipe(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is required to run the CI recipe as GitHub's runner does (apt-get install %s): %v", tool, tool, err)
		}
	}
	wf := readWorkflow(t)
	bin := buildSparkcd(t)
	api := newGitHubAPI(t)
	repo := recipeRepo(t)

	failed := runWorkflow(t, wf, repo, bin, api.URL, prRun{number: 1, baseRef: "main", head: "breaks-one"})
	if !failed {
		t.Errorf("pull request 1 introduces an error, but the job passed")
	}
	body := api.comment(t, 1)
	for _, want := range []string{"**0 added, 0 removed, 200 changed**", "(1 error)", "spark/job-007", "invalid-memory", "left out"} {
		if !strings.Contains(body, want) {
			t.Errorf("comment on pull request 1 does not say %q:\n%s", want, body[:min(len(body), 3000)])
		}
	}
	if n := len([]rune(body)); n >= 65536 {
		t.Errorf("comment on pull request 1 is %d characters: GitHub refuses 65,536 or more", n)
	}

	if runWorkflow(t, wf, repo, bin, api.URL, prRun{number: 2, baseRef: "main", head: "clean"}) {
		t.Errorf("pull request 2 is clean, but the job failed")
	}
	body = api.comment(t, 2)
	for _, want := range []string{"**0 added, 0 removed, 1 changed**", "**0 findings introduced** (0 errors)", "spark/job-042", `"2000"`} {
		if !strings.Contains(body, want) {
			t.Errorf("comment on pull request 2 does not say %q:\n%s", want, body)
		}
	}
	// A second push to pull request 2 updates its comment, not a new one.
	runWorkflow(t, wf, repo, bin, api.URL, prRun{number: 2, baseRef: "main", head: "clean"})
	if n := api.count(2); n != 1 {
		t.Errorf("pull request 2 has %d sparkcd comments after two pushes, want 1", n)
	}
}

func readWorkflow(t *testing.T) workflow {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "docs/ci/github-actions.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```yaml\n"+string(b)+"```\n") {
		t.Errorf("README.md's recipe section does not show docs/ci/github-actions.yaml as it is: copy the file into it")
	}
	var wf workflow
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatalf("docs/ci/github-actions.yaml: %v", err)
	}
	if len(wf.Jobs) != 1 {
		t.Fatalf("the recipe has %d jobs, the test runs one", len(wf.Jobs))
	}
	return wf
}

// buildSparkcd builds this tree's sparkcd: the binary `go install` puts on
// the runner's PATH.
func buildSparkcd(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "sparkcd"), ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// recipeRepo is the origin of the jobs: main with 200 jobs under the
// recipe's JOBS path and the example policies under POLICIES, and two pull
// request branches.
func recipeRepo(t *testing.T) *gittest.Repo {
	t.Helper()
	repo := gittest.NewRepo(t)
	var resources []string
	for i := range 200 {
		name := fmt.Sprintf("job-%03d", i)
		repo.WriteFile(t, "jobs/base/"+name+".yaml", recipeJob(name, "1000", "1g"))
		resources = append(resources, "  - "+name+".yaml")
	}
	repo.WriteFile(t, "jobs/base/kustomization.yaml", "resources:\n"+strings.Join(resources, "\n")+"\n")
	repo.WriteFile(t, "jobs/overlays/prod/kustomization.yaml", "namespace: spark\nresources:\n  - ../../base\n")
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "policies/testdata/examples/all.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	repo.WriteFile(t, "platform/policies/all.yaml", string(b))
	repo.CommitAndPush(t, "200 jobs")

	repo.Git(t, "checkout", "-q", "-b", "breaks-one")
	for i := range 200 {
		name := fmt.Sprintf("job-%03d", i)
		memory := "2g"
		if i == 7 {
			memory = "4Gi" // Kubernetes' spelling, not Spark's: invalid-memory
		}
		repo.WriteFile(t, "jobs/base/"+name+".yaml", recipeJob(name, "1000", memory))
	}
	repo.Commit(t, "more memory for every job")
	repo.Git(t, "push", "-q", "origin", "breaks-one")

	repo.Git(t, "checkout", "-q", "main")
	repo.Git(t, "checkout", "-q", "-b", "clean")
	repo.WriteFile(t, "jobs/base/job-042.yaml", recipeJob("job-042", "2000", "1g"))
	repo.Commit(t, "job-042: 2000 slices")
	repo.Git(t, "push", "-q", "origin", "clean")
	return repo
}

func recipeJob(name, slices, memory string) string {
	return fmt.Sprintf(`apiVersion: sparkcd.io/v1alpha1
kind: SparkJob
metadata:
  name: %s
spec:
  type: Scala
  sparkVersion: 3.5.3
  image: apache/spark:3.5.3
  mainClass: org.apache.spark.examples.SparkPi
  mainApplicationFile: local:///opt/spark/examples/jars/spark-examples_2.12-3.5.3.jar
  arguments:
    - "%s"
  driver:
    cores: 1
    memory: %s
    serviceAccount: spark
  executor:
    instances: 2
    cores: 1
    memory: 1g
`, name, slices, memory)
}
