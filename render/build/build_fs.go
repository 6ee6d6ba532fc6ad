package build

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// maxSymlinkHops bounds how many symbolic links one path may go through, so
// a cycle of links is an error rather than a hang.
const maxSymlinkHops = 40

// errNeedExclusive aborts a build that reached a kustomization with an
// "openapi" field while builds run in parallel; see buildUnit.
var errNeedExclusive = errors.New("kustomization sets an OpenAPI schema")

// repoFS is the kyaml file system krusty builds on. Every path resolves
// inside the repository root: a lexical "../" escape, an absolute path
// elsewhere or a symbolic link pointing out is an error that names the
// path. It never writes, except into the temporary clone directories of
// remote bases when those are allowed. It records every path it reads,
// lists or probes, with the state it saw, so a build can be cached on
// exactly the files it read (see Cache).
type repoFS struct {
	root        string // absolute, symbolic links resolved
	tmpDir      string // resolved os.TempDir(), where kustomize clones remote bases
	allowRemote bool
	exclusive   bool // the build holds krustyMu exclusively: "openapi" is allowed
	rec         *recorder
	cache       *Cache // optional: remembers file fingerprints across builds
	dirs        sync.Map
	// lstats memoises lstat for the life of the repoFS (one unit build, or
	// one Build's cache validation): every path is looked at once.
	lstats sync.Map
	// virtual holds generated kustomizations (plain directories, single
	// files), hidden the real kustomization files they replace; inject is
	// the unit's own kustomization, which gets originAnnotations. All are
	// keyed by resolved absolute path.
	virtual map[string][]byte
	hidden  map[string]bool
	inject  string
}

var _ filesys.FileSystem = (*repoFS)(nil)

// newRepoFS returns a file system rooted at root, which must be an
// absolute directory with its symbolic links resolved.
func newRepoFS(root string, allowRemote bool) *repoFS {
	tmp, err := filepath.EvalSymlinks(os.TempDir())
	if err != nil {
		tmp = filepath.Clean(os.TempDir())
	}
	return &repoFS{root: root, tmpDir: tmp, allowRemote: allowRemote}
}

// within reports whether p is dir or below it; both are clean and absolute.
func within(dir, p string) bool {
	if p == dir {
		return true
	}
	if dir == string(filepath.Separator) {
		return strings.HasPrefix(p, dir)
	}
	return strings.HasPrefix(p, dir+string(filepath.Separator))
}

// abs makes p absolute (relative paths are relative to the root) and clean.
func (f *repoFS) abs(p string) string {
	if !filepath.IsAbs(p) {
		p = filepath.Join(f.root, p)
	}
	return filepath.Clean(p)
}

// rel names p for messages and cache keys: relative to the root with
// forward slashes, or as is when it is outside.
func (f *repoFS) rel(p string) string {
	if within(f.root, p) {
		r, err := filepath.Rel(f.root, p)
		if err == nil {
			return filepath.ToSlash(r)
		}
	}
	return p
}

// inClone reports whether p is inside a temporary clone of a remote base.
func (f *repoFS) inClone(p string) bool {
	return f.allowRemote && within(f.tmpDir, p) &&
		strings.HasPrefix(strings.TrimPrefix(p, f.tmpDir+string(filepath.Separator)), "kustomize-")
}

// realPath resolves every symbolic link in the absolute clean path p and
// returns the real path, which may not exist. Any step that leaves the
// root is an error wrapping ErrOutsideRoot.
func (f *repoFS) realPath(p string) (string, error) {
	real, _, err := f.realStat(p)
	return real, err
}

// realStat is realPath that also returns what lstat says of the real path,
// nil when it does not exist, saving a second stat.
func (f *repoFS) realStat(p string) (string, os.FileInfo, error) {
	if f.inClone(p) {
		f.rec.markRemote()
		fi, _ := os.Stat(p)
		return p, fi, nil
	}
	if !within(f.root, p) {
		name := p
		if r, err := filepath.Rel(f.root, p); err == nil && !filepath.IsAbs(r) {
			name = filepath.ToSlash(r)
		}
		return "", nil, fmt.Errorf("'%s' is %w", name, ErrOutsideRoot)
	}
	if p == f.root {
		fi, err := os.Stat(p)
		if err != nil {
			fi = nil
		}
		return p, fi, nil
	}
	dir, err := f.realDir(filepath.Dir(p), 0)
	if err != nil {
		return "", nil, err
	}
	return f.follow(filepath.Join(dir, filepath.Base(p)), 0)
}

// realDir resolves the directory d, memoised for the life of the repoFS.
func (f *repoFS) realDir(d string, hops int) (string, error) {
	if d == f.root {
		return d, nil
	}
	if !within(f.root, d) {
		return "", fmt.Errorf("'%s' is %w", d, ErrOutsideRoot)
	}
	if v, ok := f.dirs.Load(d); ok {
		return v.(string), nil
	}
	parent, err := f.realDir(filepath.Dir(d), hops)
	if err != nil {
		return "", err
	}
	real, _, err := f.follow(filepath.Join(parent, filepath.Base(d)), hops)
	if err != nil {
		return "", err
	}
	f.dirs.Store(d, real)
	return real, nil
}

// follow resolves p when it is a symbolic link; its directory is real.
func (f *repoFS) follow(p string, hops int) (string, os.FileInfo, error) {
	fi := f.lstat(p)
	if fi == nil {
		return p, nil, nil
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return p, fi, nil
	}
	if hops >= maxSymlinkHops {
		return "", nil, fmt.Errorf("too many symbolic links at '%s'", f.rel(p))
	}
	target, err := os.Readlink(p)
	if err != nil {
		return "", nil, fmt.Errorf("unable to read symbolic link '%s': %w", f.rel(p), err)
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(p), target)
	}
	target = filepath.Clean(target)
	if !within(f.root, target) {
		return "", nil, fmt.Errorf("symbolic link '%s' points to '%s', %w", f.rel(p), target, ErrOutsideRoot)
	}
	dir, err := f.realDir(filepath.Dir(target), hops+1)
	if err != nil {
		return "", nil, err
	}
	return f.follow(filepath.Join(dir, filepath.Base(target)), hops+1)
}

type lstatResult struct{ fi os.FileInfo }

// lstat is os.Lstat, memoised; nil when p does not exist.
func (f *repoFS) lstat(p string) os.FileInfo {
	if v, ok := f.lstats.Load(p); ok {
		return v.(lstatResult).fi
	}
	fi, err := os.Lstat(p)
	if err != nil {
		fi = nil
	}
	f.lstats.Store(p, lstatResult{fi: fi})
	return fi
}

// resolve is realPath that records a violation on the way.
func (f *repoFS) resolve(p string) (string, error) {
	real, err := f.realPath(p)
	if err != nil {
		f.rec.violate(f.rel(p), err)
	}
	return real, err
}
