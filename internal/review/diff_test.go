package review

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sparkcd/sparkcd/policies"
)

// gitRun runs the real git binary in dir.
func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		"GIT_AUTHOR_DATE=2026-11-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-11-01T00:00:00Z",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const jobTemplate = `apiVersion: sparkcd.io/v1alpha1
kind: SparkJob
metadata:
  name: NAME
spec:
  type: Scala
  image: apache/spark:3.5.3
  mainClass: org.apache.spark.examples.SparkPi
  mainApplicationFile: local:///opt/spark/examples/jars/spark-examples.jar
  driver: {cores: 1, memory: 1g}
  executor: {cores: 2, memory: 2g}
  dynamicAllocation:
    enabled: true
    minExecutors: 0
    maxExecutors: MAX
    shuffleTrackingEnabled: true
    shuffleTrackingTimeout: 600000
    cachedExecutorIdleTimeout: 10m
`

func job(name, max string) string {
	return strings.NewReplacer("NAME", name, "MAX", max).Replace(jobTemplate)
}

const testPolicy = `apiVersion: sparkcd.io/v1alpha1
kind: AllocationPolicy
metadata: {name: limits}
spec:
  action: Enforce
  rules:
    maxExecutors: 50
`

// threeCommits makes a real repository: jobs a and b; then a grows past the
// policy; then b is removed and c added.
func threeCommits(t *testing.T) (string, []string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("the git binary is required for this test (apt-get install git): %v", err)
	}
	repo := t.TempDir()
	gitRun(t, repo, "init", "-q", "-b", "main")
	kust := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: team-a\nresources:\n"
	writeFile(t, repo, "jobs/a.yaml", job("a", "10"))
	writeFile(t, repo, "jobs/b.yaml", job("b", "20"))
	writeFile(t, repo, "jobs/kustomization.yaml", kust+"  - a.yaml\n  - b.yaml\n")
	gitRun(t, repo, "add", "-A")
	gitRun(t, repo, "commit", "-q", "-m", "a and b")
	writeFile(t, repo, "jobs/a.yaml", job("a", "80"))
	gitRun(t, repo, "commit", "-q", "-am", "a grows")
	if err := os.Remove(filepath.Join(repo, "jobs/b.yaml")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, repo, "jobs/c.yaml", job("c", "5"))
	writeFile(t, repo, "jobs/kustomization.yaml", kust+"  - a.yaml\n  - c.yaml\n")
	gitRun(t, repo, "add", "-A")
	gitRun(t, repo, "commit", "-q", "-m", "b out, c in")
	revs := strings.Fields(gitRun(t, repo, "rev-list", "--reverse", "HEAD"))
	return repo, revs
}

func testOptions(t *testing.T) Options {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "limits.yaml", testPolicy)
	list, err := policies.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	set, err := policies.NewSet(list)
	if err != nil {
		t.Fatal(err)
	}
	opts := DefaultOptions()
	opts.Policies = set
	return opts
}

// change is what TestDiffThreeCommits compares of a job in a diff: its
// name, how it changed, and the rules of the findings it introduced or
// fixed.
type change struct {
	Name       string
	Change     ChangeKind
	Introduced []string
	Fixed      []string
}

// changesOf summarises the jobs of d, and checks that a job has a unified
// diff exactly when it changed.
func changesOf(t *testing.T, d *DiffReport) []change {
	t.Helper()
	var got []change
	for _, j := range d.Jobs {
		c := change{Name: j.Name, Change: j.Change}
		for _, f := range j.Introduced {
			c.Introduced = append(c.Introduced, f.Rule)
		}
		for _, f := range j.Fixed {
			c.Fixed = append(c.Fixed, f.Rule)
		}
		got = append(got, c)
		if (j.Change == Unchanged) != (j.Diff == "") {
			t.Errorf("job %s: change %s with diff %q", j.Name, j.Change, j.Diff)
		}
	}
	return got
}

func TestDiffThreeCommits(t *testing.T) {
	repo, revs := threeCommits(t)
	opts := testOptions(t)
	tests := []struct {
		name     string
		from, to string
		want     []change
	}{
		{name: "a grows past the policy", from: revs[0], to: revs[1], want: []change{
			{Name: "a", Change: Changed, Introduced: []string{"max-executors"}},
			{Name: "b", Change: Unchanged},
		}},
		{name: "b removed, c added", from: "HEAD~1", to: "HEAD", want: []change{
			{Name: "a", Change: Unchanged},
			{Name: "b", Change: Removed},
			{Name: "c", Change: Added},
		}},
		{name: "back to the start fixes the finding", from: revs[1], to: revs[0], want: []change{
			{Name: "a", Change: Changed, Fixed: []string{"max-executors"}},
			{Name: "b", Change: Unchanged},
		}},
		{name: "same revision", from: "main", to: revs[2], want: []change{
			{Name: "a", Change: Unchanged},
			{Name: "c", Change: Unchanged},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Diff(t.Context(), repo, tt.from, tt.to, "jobs", opts)
			if err != nil {
				t.Fatal(err)
			}
			got := changesOf(t, d)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("the unified diff shows the changed value", func(t *testing.T) {
		d, err := Diff(t.Context(), repo, revs[0], revs[1], "jobs", opts)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(d.Jobs[0].Diff, "-    maxExecutors: 10") || !strings.Contains(d.Jobs[0].Diff, "+    maxExecutors: 80") {
			t.Errorf("diff does not show maxExecutors 10 → 80:\n%s", d.Jobs[0].Diff)
		}
		if d.IntroducedErrors() != 1 || !d.Changed() {
			t.Errorf("IntroducedErrors = %d, Changed = %v", d.IntroducedErrors(), d.Changed())
		}
		if d.Jobs[0].EnvelopeFrom == nil || d.Jobs[0].EnvelopeTo == nil ||
			*d.Jobs[0].EnvelopeTo.PeakExecutors != 80 {
			t.Errorf("envelopes = %+v → %+v", d.Jobs[0].EnvelopeFrom, d.Jobs[0].EnvelopeTo)
		}
	})

	t.Run("an unknown revision is an input error", func(t *testing.T) {
		if _, err := Diff(t.Context(), repo, "nope", "HEAD", "jobs", opts); err == nil || !strings.Contains(err.Error(), "nope") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestDiffFormatsGolden(t *testing.T) {
	repo, revs := threeCommits(t)
	d, err := Diff(t.Context(), repo, revs[0], revs[2], "jobs", testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	// Revisions differ from run to run; the golden files name them by place.
	d.From, d.To = "main~2@sha1:<first>", "main@sha1:<third>"
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := d.Write(&buf, format); err != nil {
				t.Fatal(err)
			}
			golden(t, "diff."+format+".golden", buf.String())
		})
	}
}
