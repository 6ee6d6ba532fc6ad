package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/openapi"
)

// floorCases time what the cases above cannot go below on this machine:
// kustomize's own library building the same overlays in process, with
// kustomize build's options and nothing else (no decoding, no output; the
// per-job tree on one goroutine per processor, as sparkcd builds it), and
// git checking the per-job tree for changes (its stat walk, the floor of
// a re-render that trusts unchanged stats).
func (e *env) floorCases(kustomizeRef string) []benchCase {
	coldPerJob := fmt.Sprintf("in-process Build, one overlay per job, %s, cold", e.label(e.jobs))
	return []benchCase{
		{
			name: fmt.Sprintf("floor: kustomize's library alone, one overlay, %s", e.label(e.jobs)),
			run:  func(ctx context.Context) error { return krustyBuild(ctx, e.single(), []string{"overlays/prod"}) },
			ref:  kustomizeRef,
		},
		{
			name: fmt.Sprintf("floor: kustomize's library alone, one overlay per job, %s", e.label(e.jobs)),
			run: func(ctx context.Context) error {
				units, err := filepath.Glob(filepath.Join(e.perJob(), filepath.FromSlash(perJobPath)))
				if err != nil {
					return err
				}
				return krustyBuild(ctx, e.perJob(), units)
			},
			ref: kustomizeRef,
		},
		{
			name:  fmt.Sprintf("floor: git status, one overlay per job, %s, nothing changed", e.label(e.jobs)),
			setup: func(ctx context.Context) error { return gitIndexed(ctx, e.perJob(), e.perJobStatus()) },
			run:   e.command("git", e.perJobStatus(), "status", "--porcelain"),
			ref:   coldPerJob,
		},
	}
}

// krustyBuild builds each directory below root with kustomize's library
// and kustomize build's options (no plugins, no reordering is the only
// difference: kustomize sorts its output, which the build does not need),
// on one goroutine per processor, and keeps nothing.
func krustyBuild(ctx context.Context, root string, units []string) error {
	openapi.Schema() // parsed once, before krusty runs on several goroutines
	fsys := filesys.MakeFsOnDisk()
	next := make(chan string)
	errs := make(chan error, len(units))
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(units)) {
		wg.Go(func() {
			for unit := range next {
				k := krusty.MakeKustomizer(&krusty.Options{
					Reorder:          krusty.ReorderOptionNone,
					LoadRestrictions: types.LoadRestrictionsNone,
					PluginConfig:     types.DisabledPluginConfig(),
				})
				dir := unit
				if !filepath.IsAbs(dir) {
					dir = filepath.Join(root, unit)
				}
				if _, err := k.Run(fsys, dir); err != nil {
					errs <- fmt.Errorf("kustomize's library on '%s': %w", unit, err)
				}
			}
		})
	}
	for _, u := range units {
		if ctx.Err() != nil {
			break
		}
		next <- u
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return ctx.Err()
}

// gitIndexed copies the tree src into a git repository dst, committed,
// with every file's timestamps an hour back and the index written after
// them, so git status trusts each file's stat as a checkout made a while
// ago lets it.
func gitIndexed(ctx context.Context, src, dst string) error {
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		return err
	}
	old := time.Now().Add(-time.Hour)
	err := filepath.Walk(dst, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, old, old)
	})
	if err != nil {
		return err
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "-A"},
		{"commit", "-q", "-m", "jobs"},
		{"update-index", "--refresh"},
	} {
		if err := runGit(ctx, dst, args...); err != nil {
			return err
		}
	}
	return nil
}
