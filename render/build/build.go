package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// buildsInFlight counts the Build calls running in this process.
var buildsInFlight atomic.Int32

// BuildOptions are the settings of one Build.
type BuildOptions struct {
	// AllowRemoteBases lets kustomizations refer to git repositories and
	// http(s) files. Off by default: such a reference is an error naming
	// the kustomization file. Units that use one are never cached.
	AllowRemoteBases bool
	// Parallelism is how many units are built at once; zero or less means
	// runtime.GOMAXPROCS(0).
	Parallelism int
	// Cache, when set, reuses the builds of units whose files did not
	// change since a previous Build with the same Cache.
	Cache *Cache
	// DefaultNamespace is given to jobs that name no namespace, as kubectl
	// does with its context's namespace. The CLI leaves it "default"; the
	// reconciler sets the JobSource's namespace, as Flux does for a
	// Kustomization's objects.
	DefaultNamespace string
}

// DefaultBuildOptions returns the options of the CLI: no remote bases, one
// build per processor, no cache, and namespace "default".
func DefaultBuildOptions() BuildOptions {
	return BuildOptions{Parallelism: runtime.GOMAXPROCS(0), DefaultNamespace: "default"}
}

// BuildResult is what a Build yields.
type BuildResult struct {
	// Jobs are every job decoded from every unit, including those with
	// findings, sorted by namespace, name and source file.
	Jobs []Job
	// Objects are every other object of every unit (ConfigMaps, Secrets,
	// ServiceAccounts…), sorted by namespace, group, kind and name; see
	// objects.go.
	Objects []Object
	// Units are the paths built, relative to the root, in order.
	Units []string
	// Errors are the units that could not be built; the others' jobs are
	// in Jobs all the same.
	Errors []*BuildError
}

// Build builds path, relative to root (the repository checkout), and
// decodes the jobs it yields. path may be a kustomization directory, a
// plain directory of YAML files, one file, or a glob of any of those (for
// example "jobs/*/overlays/prod"), each match built on its own as a unit.
// A failing unit is reported in BuildResult.Errors and never stops the
// others. The error is for a root or path that cannot be used at all, or a
// cancelled context, which stops the build between units.
//
// Two jobs with the same namespace and name, from one unit or two, each get
// a "duplicate-job" finding naming the other's file.
func Build(ctx context.Context, root, path string, opts BuildOptions) (*BuildResult, error) {
	realRoot, err := resolveRoot(root)
	if err != nil {
		return nil, err
	}
	units, err := expandUnits(realRoot, path)
	if err != nil {
		return nil, err
	}
	env := &buildEnv{root: realRoot, allowRemote: opts.AllowRemoteBases, cache: opts.Cache}
	pass := opts.Cache.newPass(newRepoFS(realRoot, opts.AllowRemoteBases))

	results := make([]unitResult, len(units))
	workers := opts.Parallelism
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(units))
	// Parse kyaml's schema up front only when krusty may run on two
	// goroutines at once (see krustyMu); a lone build of one unit, as
	// "sparkcd render overlays/prod", need not pay for it.
	if inflight := buildsInFlight.Add(1); workers > 1 || inflight > 1 {
		warmSchema()
	}
	defer buildsInFlight.Add(-1)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				results[i] = env.buildCached(pass, units[i])
			}
		})
	}
	cancelled := false
	for i := range units {
		if ctx.Err() != nil {
			cancelled = true
			break
		}
		select {
		case next <- i:
		case <-ctx.Done():
			cancelled = true
		}
		if cancelled {
			break
		}
	}
	close(next)
	wg.Wait()

	res := &BuildResult{Units: units}
	for _, r := range results {
		res.Jobs = append(res.Jobs, r.jobs...)
		res.Objects = append(res.Objects, r.objects...)
		if r.err != nil {
			res.Errors = append(res.Errors, r.err)
		}
	}
	finishJobs(res.Jobs, opts.DefaultNamespace)
	finishObjects(res.Objects, opts.DefaultNamespace)
	if cancelled {
		return res, fmt.Errorf("build of '%s' stopped: %w", path, ctx.Err())
	}
	return res, nil
}

// buildCached builds a unit, or takes it from the cache.
func (env *buildEnv) buildCached(pass *cachePass, unit string) unitResult {
	key := fmt.Sprintf("%s\x00%t", unit, env.allowRemote)
	if res, ok := pass.lookup(key); ok {
		return res
	}
	res := env.buildUnit(unit)
	pass.store(key, res)
	return res
}

func resolveRoot(root string) (string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("unable to use root '%s': %w", root, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("unable to use root '%s': %w", root, err)
	}
	fi, err := os.Stat(real)
	if err != nil || !fi.IsDir() {
		return "", fmt.Errorf("root '%s' is not a directory: %w", root, ErrNotFound)
	}
	return real, nil
}

// expandUnits turns the path or glob into units relative to root.
func expandUnits(root, pattern string) ([]string, error) {
	p := filepath.FromSlash(pattern)
	if filepath.IsAbs(p) {
		rel, err := filepath.Rel(root, filepath.Clean(p))
		if err != nil || !filepath.IsLocal(rel) && rel != "." {
			return nil, fmt.Errorf("'%s' is %w", pattern, ErrOutsideRoot)
		}
		p = rel
	}
	p = filepath.Clean(p)
	if !filepath.IsLocal(p) && p != "." {
		return nil, fmt.Errorf("'%s' is %w", pattern, ErrOutsideRoot)
	}
	if !strings.ContainsAny(p, "*?[") {
		if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
			return nil, fmt.Errorf("'%s': %w", pattern, ErrNotFound)
		}
		return []string{filepath.ToSlash(p)}, nil
	}
	units, err := globUnits(root, filepath.ToSlash(p))
	if err != nil {
		return nil, fmt.Errorf("bad pattern '%s': %w", pattern, err)
	}
	if len(units) == 0 {
		return nil, fmt.Errorf("'%s' matches nothing: %w", pattern, ErrNotFound)
	}
	sort.Strings(units)
	return units, nil
}

// globUnits matches a slash-separated pattern below root, as filepath.Glob
// does, but lists only the directories whose component has a wildcard and
// stats each candidate once: "jobs/*/overlays/prod" costs one listing and
// one lstat per job, where filepath.Glob lists every directory on the way.
func globUnits(root, pattern string) ([]string, error) {
	cands := []string{""}
	literal := false // whether components without wildcards follow the last listing
	for _, part := range strings.Split(pattern, "/") {
		if _, err := filepath.Match(part, ""); err != nil {
			return nil, err
		}
		var next []string
		if !strings.ContainsAny(part, "*?[\\") {
			for _, c := range cands {
				next = append(next, joinSlash(c, part))
			}
			cands, literal = next, true
			continue
		}
		for _, c := range cands {
			entries, err := os.ReadDir(filepath.Join(root, filepath.FromSlash(c)))
			if err != nil {
				continue
			}
			for _, e := range entries {
				if ok, _ := filepath.Match(part, e.Name()); ok {
					next = append(next, joinSlash(c, e.Name()))
				}
			}
		}
		cands, literal = next, false
	}
	if !literal {
		return cands, nil
	}
	kept := cands[:0]
	for _, c := range cands {
		if _, err := os.Lstat(filepath.Join(root, filepath.FromSlash(c))); err == nil {
			kept = append(kept, c)
		}
	}
	return kept, nil
}

func joinSlash(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// finishJobs gives namespaceless jobs the default namespace, marks
// duplicates and sorts.
func finishJobs(jobs []Job, defaultNamespace string) {
	for i := range jobs {
		if jobs[i].Namespace == "" && defaultNamespace != "" {
			jobs[i].Namespace = defaultNamespace
			if jobs[i].Object != nil {
				jobs[i].Object.Namespace = defaultNamespace
			}
		}
	}
	sort.SliceStable(jobs, func(i, j int) bool {
		a, b := &jobs[i], &jobs[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Origin.File != b.Origin.File {
			return a.Origin.File < b.Origin.File
		}
		return a.Origin.Unit < b.Origin.Unit
	})
	for i := 0; i < len(jobs); {
		j := i + 1
		for j < len(jobs) && jobs[j].Name == jobs[i].Name && jobs[j].Namespace == jobs[i].Namespace {
			j++
		}
		if j-i > 1 && jobs[i].Name != "" {
			for a := i; a < j; a++ {
				for b := i; b < j; b++ {
					if a != b {
						jobs[a].Findings = append(jobs[a].Findings, duplicateFinding(&jobs[a], &jobs[b]))
					}
				}
			}
		}
		i = j
	}
}

func duplicateFinding(job, other *Job) v1alpha1.Finding {
	where := other.Origin.File
	if where == "" {
		where = other.Origin.Unit
	}
	where = "'" + where + "'"
	if other.Origin.Unit != "" && other.Origin.Unit != job.Origin.Unit {
		where += fmt.Sprintf(" (built from '%s')", other.Origin.Unit)
	}
	return v1alpha1.Finding{Severity: v1alpha1.SeverityError, Rule: RuleDuplicateJob, Field: "metadata.name",
		Message: fmt.Sprintf("job '%s/%s' is also defined in %s", job.Namespace, job.Name, where)}
}
