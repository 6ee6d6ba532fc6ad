package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
)

// readmeCommand is one command line of a ```sh block of README.md.
type readmeCommand struct {
	line int
	args []string
}

// readmeCommands returns the command lines of README.md's sh blocks, with
// trailing comments removed.
func readmeCommands(t *testing.T) []readmeCommand {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	comment := regexp.MustCompile(`\s+#\s.*$`)
	var cmds []readmeCommand
	in := false
	s := bufio.NewScanner(f)
	for n := 1; s.Scan(); n++ {
		line := s.Text()
		switch {
		case line == "```sh":
			in = true
		case strings.HasPrefix(line, "```"):
			in = false
		case in:
			line = strings.TrimSpace(comment.ReplaceAllString(line, ""))
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if strings.ContainsAny(line, `'"\|&;$`) {
				t.Fatalf("README.md:%d: %q needs a shell; keep README commands to plain words so this test can run them", n, line)
			}
			cmds = append(cmds, readmeCommand{line: n, args: strings.Fields(line)})
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return cmds
}

// TestReadmeCommands runs every command of the README's sh blocks as
// written: sparkcd commands in-process, in a jobs repository holding the
// README's paths with two commits (so HEAD~1 exists as in any jobs
// repository); kubectl commands against the test control plane from the
// repository root; make targets are checked to exist, and `go install`
// to name this module's command. The cluster part of the worked example
// runs against `sparkcd serve` with the example namespace's nightly-etl
// job applied, as its JobSource would apply it from git.
func TestReadmeCommands(t *testing.T) {
	e := env.Env(t)
	root := repoRoot(t)
	jobsRepo := exampleJobsRepo(t, root)
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	var serving bool
	for _, c := range readmeCommands(t) {
		where := "README.md:" + itoa(c.line) + ": " + strings.Join(c.args, " ")
		t.Log(where)
		switch c.args[0] {
		case "make":
			for _, target := range c.args[1:] {
				if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(target) + `:`).Match(makefile) {
					t.Errorf("%s: no Makefile target %q", where, target)
				}
			}
		case "go":
			if len(c.args) != 3 || c.args[1] != "install" || !strings.HasPrefix(c.args[2], "github.com/sparkcd/sparkcd/cmd/sparkcd@") {
				t.Errorf("%s: the only go command the README may give is `go install github.com/sparkcd/sparkcd/cmd/sparkcd@…`", where)
			}
		case "kubectl":
			cmd := e.Kubectl(t.Context(), c.args[1:]...)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s: %v\n%s", where, err, out)
			}
		case "sparkcd", "bin/sparkcd":
			args := c.args[1:]
			if slices.Contains(clusterVerbs, args[0]) {
				if !serving {
					startExampleServe(t, e, root)
					serving = true
				}
				args = append(args, "--kubeconfig", e.Kubeconfig)
			}
			t.Chdir(jobsRepo)
			var stdout, stderr bytes.Buffer
			code := runReadmeCommand(t, e, args, &stdout, &stderr)
			if args[0] == "logs" && code == exitFindings && strings.Contains(stderr.String(), "has no log yet: its driver pod") {
				continue // no kubelet in the test control plane: the driver is never scheduled
			}
			if code != exitOK {
				t.Errorf("%s: exit code %d\nstdout:\n%s\nstderr:\n%s", where, code, lastLines(stdout.String(), 20), stderr.String())
			}
		default:
			t.Errorf("%s: the test does not know how to run %q; teach it or change the README", where, c.args[0])
		}
	}
}

// exampleJobsRepo is a git repository holding jobs/examples and the
// example policies at the README's paths, with a second commit changing
// one production job.
func exampleJobsRepo(t *testing.T, root string) string {
	t.Helper()
	dir := t.TempDir()
	for _, p := range []string{"jobs/examples", "policies/testdata/examples"} {
		if err := os.CopyFS(filepath.Join(dir, p), os.DirFS(filepath.Join(root, p))); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=readme", "-c", "user.email=readme@example.com"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	git("init", "-q", "-b", "main")
	git("add", "-A")
	git("commit", "-q", "-m", "jobs")
	pi := filepath.Join(dir, "jobs/examples/base/spark-pi/job.yaml")
	b, err := os.ReadFile(pi)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pi, bytes.Replace(b, []byte(`- "1000"`), []byte(`- "2000"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	git("commit", "-q", "-am", "spark-pi: 2000 slices")
	return dir
}

// startExampleServe runs `sparkcd serve` on spark-dev, with the dev
// overlay's nightly-etl job applied as its JobSource would from git (the
// README's JobSource points at GitHub, out of reach of the tests).
func startExampleServe(t *testing.T, e *testenv.Env, root string) {
	t.Helper()
	var out, errOut bytes.Buffer
	t.Chdir(root)
	if code := run(t.Context(), []string{"render", "jobs/examples/overlays/dev", "--job", "nightly-etl"}, &out, &errOut); code != 0 {
		t.Fatalf("render nightly-etl: exit %d: %s", code, errOut.String())
	}
	doc, _, _ := strings.Cut(out.String(), "\n---\n")
	job := &v1alpha1.SparkJob{}
	if err := yaml.Unmarshal([]byte(doc), job); err != nil {
		t.Fatal(err)
	}
	job.ResourceVersion = ""
	if err := e.Client.Create(t.Context(), job); err != nil {
		t.Fatalf("create the example job: %v", err)
	}
	startServe(t, e, "spark-dev", "--cleanup-schedule", "", "--source-interval", "1h")
}

// clusterVerbs are the commands that talk to the cluster.
var clusterVerbs = []string{"run", "status", "logs", "history", "suspend", "resume", "reconcile"}

// runReadmeCommand runs a README command in-process; for `run --wait` it
// plays the kubelet the test control plane lacks, ending the run's driver
// as succeeded.
func runReadmeCommand(t *testing.T, e *testenv.Env, args []string, stdout, stderr *bytes.Buffer) int {
	if args[0] == "run" && slices.Contains(args, "--wait") {
		ctx, stop := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); finishDrivers(ctx, e, "spark-dev", "-m", 0) }()
		defer func() { stop(); <-done }()
	}
	return run(t.Context(), args, stdout, stderr)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func itoa(n int) string { return strconv.Itoa(n) }
