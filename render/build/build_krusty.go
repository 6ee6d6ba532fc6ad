package build

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/openapi"
)

// Parallel krusty builds.
//
// kustomize issue #3659 is a "concurrent map read and map write" panic in
// kyaml's openapi package, which keeps the OpenAPI schema in package-level
// variables; Flux serialises every build behind one mutex for it. Since
// kyaml added a lock around those variables (issue #4824), two hazards
// remain, and they are all this package guards against:
//
//  1. The first use of the schema parses it into maps that other readers
//     (IsNamespaceScoped, SchemaForResourceType) read without the lock. So
//     the built-in schema is parsed once, alone, before krusty can run on
//     two goroutines: a Build with more than one worker, or one that starts
//     while another is running (warmSchema; it waits, holding the lock
//     exclusively, for the unit in progress).
//  2. A kustomization with an "openapi" field replaces the global schema
//     for every build running at the same time and for every build after
//     it (Flux's "openapi pollution" test). Such a kustomization is seen
//     by repoFS before krusty applies it; the build is then abandoned and
//     run again holding krustyMu exclusively, and the default schema is
//     restored before the lock is released.
//
// Everything else krusty touches is per build. TestBuildParallelRace builds
// many overlays sharing bases, components, generators, patches and
// replacements on many goroutines under the race detector.
var (
	krustyMu   sync.RWMutex
	schemaOnce sync.Once
)

func warmSchema() {
	schemaOnce.Do(func() {
		krustyMu.Lock()
		defer krustyMu.Unlock()
		openapi.Schema()
	})
}

// unitResult is what building one unit yields.
type unitResult struct {
	jobs    []Job
	objects []Object
	err     *BuildError
	rec     *recorder
}

// buildEnv is what every unit of one Build shares.
type buildEnv struct {
	root        string
	allowRemote bool
	cache       *Cache
}

// buildUnit builds one unit: under the shared lock first, and again under
// the exclusive lock when it turns out to set an OpenAPI schema.
func (env *buildEnv) buildUnit(unit string) unitResult {
	res := env.tryBuild(unit, false)
	if res.rec.needExclusive {
		res = env.tryBuild(unit, true)
	}
	return res
}

func (env *buildEnv) tryBuild(unit string, exclusive bool) unitResult {
	rec := newRecorder()
	fsys := newRepoFS(env.root, env.allowRemote)
	fsys.rec, fsys.cache, fsys.exclusive = rec, env.cache, exclusive
	fail := func(file string, err error) unitResult {
		if rec.violation != nil {
			file, err = rec.violation.File, rec.violation.Err
		}
		return unitResult{err: &BuildError{Unit: unit, File: file, Err: err}, rec: rec}
	}
	dir, unitDir, err := fsys.prepareUnit(unit)
	if err != nil {
		return fail(unit, err)
	}
	var m resmap.ResMap
	if exclusive {
		krustyMu.Lock()
		m, err = runKrusty(fsys, dir)
		openapi.ResetOpenAPI()
		openapi.Schema()
		krustyMu.Unlock()
	} else {
		krustyMu.RLock()
		m, err = runKrusty(fsys, dir)
		krustyMu.RUnlock()
	}
	if rec.needExclusive && !exclusive {
		return unitResult{rec: rec}
	}
	if err != nil {
		if file, msg, ok := fsys.explainKustomize(unitDir, err); ok {
			return fail(file, msg)
		}
		file := rec.lastRead
		if file == "" {
			file = unit
		}
		if data, rerr := fsys.ReadFile(file); rerr == nil {
			err = syntaxErrorLines(data, err)
		}
		return fail(file, fmt.Errorf("%w: %w", ErrKustomize, err))
	}
	var jobs []Job
	var objects []Object
	for _, r := range m.Resources() {
		if job, ok := decodeResource(r, unit, unitDir); ok {
			jobs = append(jobs, job)
		} else if obj, ok := decodeSupporting(r, unit, unitDir, env.root); ok {
			objects = append(objects, obj)
		}
	}
	placeFindings(fsys.ReadFile, jobs)
	return unitResult{jobs: jobs, objects: objects, rec: rec}
}

// runKrusty runs one kustomize build: no plugins, no load restrictions
// (repoFS keeps every read inside the root), resources in input order.
// kustomize panics on some invalid input; that is an error here.
func runKrusty(fsys *repoFS, dir string) (m resmap.ResMap, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("recovered from kustomize panic: %v", r)
		}
	}()
	k := krusty.MakeKustomizer(&krusty.Options{
		Reorder:          krusty.ReorderOptionNone,
		LoadRestrictions: types.LoadRestrictionsNone,
		PluginConfig:     types.DisabledPluginConfig(),
	})
	return k.Run(fsys, dir)
}

// prepareUnit finds what the unit is and readies the file system to build
// it. It returns the directory to give krusty and the directory that
// origin annotations are relative to (relative to the root).
//
//   - A directory with a kustomization is built as it is.
//   - A directory without one is built as Flux builds it: a generated
//     kustomization lists every *.yaml and *.yml file below it, and every
//     subdirectory holding a kustomization as a base, not descended into.
//     Names starting with "." (.github, .git) are skipped.
//   - A kustomization file stands for its directory.
//   - Any other file is built alone, through a generated kustomization
//     that lists only it.
func (f *repoFS) prepareUnit(unit string) (dir, unitDir string, err error) {
	abs := f.abs(filepath.FromSlash(unit))
	real, err := f.resolve(abs)
	if err != nil {
		return "", "", err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", "", fmt.Errorf("'%s': %w", unit, ErrNotFound)
	}
	if fi.IsDir() {
		if kf := f.kustomizationIn(abs); kf != "" {
			f.inject = filepath.Join(real, kf)
			return abs, f.rel(abs), nil
		}
		var resources []string
		if err := f.discover(abs, "", &resources); err != nil {
			return "", "", err
		}
		f.setVirtual(real, resources)
		return abs, f.rel(abs), nil
	}
	parent := filepath.Dir(abs)
	if isKustomizationName(filepath.Base(abs)) {
		f.inject = real
		return parent, f.rel(parent), nil
	}
	realParent, err := f.resolve(parent)
	if err != nil {
		return "", "", err
	}
	f.setVirtual(realParent, []string{filepath.Base(abs)})
	return parent, f.rel(parent), nil
}

// kustomizationIn returns the name of the kustomization file in dir, if any.
func (f *repoFS) kustomizationIn(dir string) string {
	for _, name := range kustomizationNames {
		if p := filepath.Join(dir, name); f.Exists(p) && !f.IsDir(p) {
			return name
		}
	}
	return ""
}

var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// discover lists, below dir, what a generated kustomization includes.
func (f *repoFS) discover(dir, prefix string, out *[]string) error {
	names, err := f.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, name := range names {
		if strings.HasPrefix(name, ".") {
			continue
		}
		p, rel := filepath.Join(dir, name), prefix+name
		switch {
		case f.IsDir(p):
			if f.kustomizationIn(p) != "" {
				*out = append(*out, rel)
				continue
			}
			if err := f.discover(p, rel+"/", out); err != nil {
				return err
			}
		case strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml"):
			*out = append(*out, rel)
		}
		if f.rec.violation != nil {
			return f.rec.violation.Err
		}
	}
	return nil
}

// setVirtual places a generated kustomization listing resources in the
// real directory dir, hiding any real one there.
func (f *repoFS) setVirtual(dir string, resources []string) {
	if resources == nil {
		resources = []string{}
	}
	// JSON is YAML, and quotes every path safely.
	data, _ := json.Marshal(map[string]any{
		"apiVersion":    types.KustomizationVersion,
		"kind":          types.KustomizationKind,
		"buildMetadata": []string{types.OriginAnnotations},
		"resources":     resources,
	})
	f.virtual = map[string][]byte{filepath.Join(dir, kustomizationNames[0]): data}
	f.hidden = map[string]bool{}
	for _, name := range kustomizationNames[1:] {
		f.hidden[filepath.Join(dir, name)] = true
	}
}
