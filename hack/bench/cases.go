package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/sparkcd/sparkcd/render/build"
)

// benchCase is one timed entry of the table. Sections add their cases to
// the slice cases returns; a case compared with another names it in ref.
type benchCase struct {
	// name is the row's label, and what -only matches.
	name string
	// setup runs once, untimed, before the first repetition.
	setup func(ctx context.Context) error
	// prepare runs before each repetition, untimed; rep counts from 0.
	prepare func(rep int) error
	// run is the timed work.
	run func(ctx context.Context) error
	// ref names the case the ratio is taken to; target is the highest
	// ratio that passes. A case with a ref and no target is a floor: what
	// the cases beside it cannot go below, printed with its ratio.
	ref    string
	target float64
}

// env is what the cases work on.
type env struct {
	dir       string // the temporary directory holding the repositories
	jobs      int
	sparkcd   string
	kustomize string
	policies  string // the directory of AllocationPolicy files check and diff use
}

func (e *env) single() string    { return filepath.Join(e.dir, "single") }
func (e *env) perJob() string    { return filepath.Join(e.dir, "perjob") }
func (e *env) perJob5x() string  { return filepath.Join(e.dir, "perjob5x") }
func (e *env) perJobGit() string { return filepath.Join(e.dir, "perjob-git") }
func (e *env) perJobStatus() string {
	return filepath.Join(e.dir, "perjob-status")
}
func (e *env) label(n int) string { return fmt.Sprintf("%d jobs", n) }

// perJobPath selects every job's overlay of the one-overlay-per-job tree.
const perJobPath = "jobs/*/overlays/prod"

// cases lists every benchmark, in the order of the table: the commands
// first, then the in-process builds; both take kustomize build of one
// overlay as their reference.
func (e *env) cases() []benchCase {
	kustomizeRef := fmt.Sprintf("kustomize build, one overlay, %s", e.label(e.jobs))
	cases := append(e.commandCases(kustomizeRef), e.buildCases(kustomizeRef)...)
	return append(cases, e.floorCases(kustomizeRef)...)
}

// commandCases times the kustomize and sparkcd binaries: render, check and
// diff.
func (e *env) commandCases(kustomizeRef string) []benchCase {
	sparkcdPerJob := fmt.Sprintf("sparkcd render, one overlay per job, %s", e.label(e.jobs))
	return []benchCase{
		{
			name: kustomizeRef,
			run:  e.command(e.kustomize, e.single(), "build", "overlays/prod"),
		},
		{
			name: fmt.Sprintf("sparkcd render, one overlay, %s", e.label(e.jobs)),
			run:  e.command(e.sparkcd, e.single(), "render", "overlays/prod"),
			ref:  kustomizeRef, target: 0.8,
		},
		{
			name: sparkcdPerJob,
			run:  e.command(e.sparkcd, e.perJob(), "render", perJobPath),
			ref:  kustomizeRef, target: 0.5,
		},
		{
			name:  fmt.Sprintf("sparkcd render, one overlay per job, %s", e.label(5*e.jobs)),
			setup: func(context.Context) error { return generatePerJob(e.perJob5x(), 5*e.jobs) },
			run:   e.command(e.sparkcd, e.perJob5x(), "render", perJobPath),
			ref:   sparkcdPerJob, target: 5.5,
		},
		{
			name: fmt.Sprintf("sparkcd check --policies (3 policies), one overlay per job, %s", e.label(e.jobs)),
			run:  e.review(e.perJob(), "check", perJobPath, "--policies", e.policies),
			ref:  sparkcdPerJob, target: 1.1,
		},
		{
			name:  fmt.Sprintf("sparkcd diff of two revisions differing in one job, one overlay per job, %s", e.label(e.jobs)),
			setup: func(ctx context.Context) error { return gitTwoRevisions(ctx, e.perJob(), e.perJobGit()) },
			run:   e.review(e.perJobGit(), "diff", "--from", "HEAD~1", "--to", "HEAD", perJobPath, "--policies", e.policies),
			ref:   sparkcdPerJob, target: 1.2,
		},
	}
}

// buildCases times build.Build in process: cold, then re-rendering through
// a warm cache with one job file changed or none.
func (e *env) buildCases(kustomizeRef string) []benchCase {
	coldPerJob := fmt.Sprintf("in-process Build, one overlay per job, %s, cold", e.label(e.jobs))
	coldSingle := fmt.Sprintf("in-process Build, one overlay, %s, cold", e.label(e.jobs))
	perJobCache, singleCache := build.NewCache(), build.NewCache()
	cached := func(cache *build.Cache, root, path string) func(context.Context) error {
		return func(ctx context.Context) error { return buildOnce(ctx, root, path, cache) }
	}
	return []benchCase{
		{
			name: coldSingle,
			run:  func(ctx context.Context) error { return buildOnce(ctx, e.single(), "overlays/prod", nil) },
			ref:  kustomizeRef, target: 1.1,
		},
		{
			name: coldPerJob,
			run:  func(ctx context.Context) error { return buildOnce(ctx, e.perJob(), perJobPath, nil) },
			ref:  kustomizeRef, target: 0.7,
		},
		{
			name:    fmt.Sprintf("in-process re-render, one overlay per job, %s, one job file changed", e.label(e.jobs)),
			setup:   warm(perJobCache, e.perJob(), perJobPath),
			prepare: e.changeOneJob,
			run:     cached(perJobCache, e.perJob(), perJobPath),
			ref:     coldPerJob, target: 0.01,
		},
		{
			name:  fmt.Sprintf("in-process re-render, one overlay per job, %s, nothing changed", e.label(e.jobs)),
			setup: cached(perJobCache, e.perJob(), perJobPath),
			run:   cached(perJobCache, e.perJob(), perJobPath),
			ref:   coldPerJob, target: 0.02,
		},
		{
			name:  fmt.Sprintf("in-process re-render, one overlay, %s, nothing changed", e.label(e.jobs)),
			setup: warm(singleCache, e.single(), "overlays/prod"),
			run:   cached(singleCache, e.single(), "overlays/prod"),
			ref:   coldSingle, target: 0.02,
		},
	}
}

// warm renders path twice into cache: a first render fills the cache, a
// second finds every file older than the racy window trusted by its stat.
func warm(cache *build.Cache, root, path string) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := buildOnce(ctx, root, path, cache); err != nil {
			return err
		}
		return buildOnce(ctx, root, path, cache)
	}
}

// changeOneJob rewrites the base of job rep (mod the job count) with a new
// instance count, so each repetition re-renders one changed job.
func (e *env) changeOneJob(rep int) error {
	name := jobName(rep % e.jobs)
	content := strings.Replace(jobYAML(name, rep), "instances: 2", fmt.Sprintf("instances: %d", 3+rep), 1)
	return os.WriteFile(filepath.Join(e.perJob(), "jobs", name, "base", "job.yaml"), []byte(content), 0o644)
}

// buildOnce runs build.Build and fails on any unit error.
func buildOnce(ctx context.Context, root, path string, cache *build.Cache) error {
	opts := build.DefaultBuildOptions()
	opts.Cache = cache
	res, err := build.Build(ctx, root, path, opts)
	if err != nil {
		return err
	}
	if len(res.Errors) > 0 {
		return fmt.Errorf("%d units failed, first: %w", len(res.Errors), res.Errors[0])
	}
	if len(res.Jobs) == 0 {
		return errors.New("no jobs built")
	}
	return nil
}

// review runs a sparkcd review command (check, diff) in dir: exit code 1,
// findings, is a result like 0.
func (e *env) review(dir string, args ...string) func(context.Context) error {
	run := e.command(e.sparkcd, dir, args...)
	return func(ctx context.Context) error {
		err := run(ctx)
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 1 {
			return nil
		}
		return err
	}
}

// gitTwoRevisions copies the tree src into a git repository dst with two
// commits: the tree, then one job's executor count changed.
func gitTwoRevisions(ctx context.Context, src, dst string) error {
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		return err
	}
	git := func(args ...string) error { return runGit(ctx, dst, args...) }
	if err := git("init", "-q", "-b", "main"); err != nil {
		return err
	}
	if err := git("add", "-A"); err != nil {
		return err
	}
	if err := git("commit", "-q", "-m", "jobs"); err != nil {
		return err
	}
	job := filepath.Join(dst, "jobs", jobName(0), "base", "job.yaml")
	content := strings.Replace(jobYAML(jobName(0), 0), "instances: 2", "instances: 4", 1)
	if err := os.WriteFile(job, []byte(content), 0o644); err != nil {
		return err
	}
	return git("commit", "-q", "-am", "one job changed")
}

// runGit runs git in dir as a bench user, failing with its output.
func runGit(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir, "-c", "user.name=bench", "-c", "user.email=bench@example.com"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// findBinary returns the absolute path of bin: a path, or a command name
// looked up in PATH (git).
func findBinary(bin string) (string, error) {
	if !strings.ContainsRune(bin, filepath.Separator) {
		p, err := exec.LookPath(bin)
		if err != nil {
			return "", fmt.Errorf("'%s' not found in PATH (install it: apt-get install %s)", bin, bin)
		}
		return p, nil
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("binary '%s' not found (run 'make build' or 'make bench')", bin)
	}
	return filepath.Abs(bin)
}

// command runs a binary in dir, its output discarded. A missing binary
// (the CLI not built yet) fails the case with a message saying so.
func (e *env) command(bin, dir string, args ...string) func(context.Context) error {
	return func(ctx context.Context) error {
		if bin == "" {
			return errors.New("no binary given")
		}
		abs, err := findBinary(bin)
		if err != nil {
			return err
		}
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, abs, args...)
		cmd.Dir, cmd.Stderr = dir, &stderr
		if err := cmd.Run(); err != nil {
			msg, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
			return fmt.Errorf("'%s %s' failed: %w: %s", filepath.Base(bin), strings.Join(args, " "), err, msg)
		}
		return nil
	}
}
