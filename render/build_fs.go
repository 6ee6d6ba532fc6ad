package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/api/konfig"
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

// recorder collects what one build read, and the first security violation.
type recorder struct {
	mu            sync.Mutex
	deps          map[string]string
	dirs          map[string]dirNote
	violation     *BuildError
	lastRead      string
	needExclusive bool
	remote        bool
}

func newRecorder() *recorder {
	return &recorder{deps: map[string]string{}, dirs: map[string]dirNote{}}
}

// dirNote is a directory's stat when a build looked into it. While it is
// unchanged, no entry of the directory was added, removed, renamed or
// replaced, so what the build saw of its entries' existence and type still
// holds (see cachePass.lookup).
type dirNote struct {
	fp      fingerprint
	trusted bool
}

// record adds a dependency on the absolute path p, and notes the directory
// whose entries decide its state: the parent, or p itself for a listing.
// The directory was resolved, so stat'ed, before p was looked at.
func (f *repoFS) record(kind, p, state string) {
	if f.rec == nil {
		return
	}
	f.rec.add(kind+f.rel(p), state)
	dir := p
	if kind != "l:" {
		dir = filepath.Dir(p)
	}
	rel := f.rel(dir)
	f.rec.mu.Lock()
	_, noted := f.rec.dirs[rel]
	f.rec.mu.Unlock()
	if noted {
		return
	}
	if _, fi, err := f.realStat(dir); err == nil && fi != nil {
		note := dirNote{fp: fingerprintOf(fi), trusted: notRacy(fi)}
		f.rec.mu.Lock()
		f.rec.dirs[rel] = note
		f.rec.mu.Unlock()
	}
}

func (r *recorder) add(key, state string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.deps[key] = state
	r.mu.Unlock()
}

func (r *recorder) violate(file string, err error) {
	if r == nil {
		return
	}
	r.mu.Lock()
	if r.violation == nil {
		r.violation = &BuildError{File: file, Err: err}
	}
	r.mu.Unlock()
}

func (r *recorder) read(file string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.lastRead = file
	r.mu.Unlock()
}

func (r *recorder) markRemote() {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.remote = true
	r.mu.Unlock()
}

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

// statState describes what is at the absolute path p: "missing", "dir" or
// "file", followed by the real path when a symbolic link led elsewhere.
func (f *repoFS) statState(p string) (state string, fi os.FileInfo, real string, err error) {
	real, fi, err = f.realStat(p)
	if err != nil {
		return "!outside", nil, "", err
	}
	switch {
	case fi == nil:
		return "missing", nil, real, nil
	case fi.IsDir():
		state = "dir"
	default:
		state = "file"
	}
	if real != p {
		state += ">" + f.rel(real)
	}
	return state, fi, real, nil
}

// readState reads the file at the absolute path p and describes its
// content by hash. The stat is taken before the read, so a file changed
// in between is hashed again next time.
func (f *repoFS) readState(p string) (data []byte, state string, err error) {
	real, fi, err := f.realStat(p)
	if err != nil {
		return nil, "!outside", err
	}
	if fi == nil {
		return nil, "!missing", &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	if fi.IsDir() {
		return nil, "!dir", &fs.PathError{Op: "read", Path: p, Err: fmt.Errorf("is a directory")}
	}
	data, err = os.ReadFile(real)
	if err != nil {
		return nil, "!unreadable", err
	}
	sum := sha256.Sum256(data)
	state = hex.EncodeToString(sum[:16])
	f.cache.rememberFile(p, fi, state)
	return data, state, nil
}

// listState lists the directory at the absolute path p.
func (f *repoFS) listState(p string) (names []string, state string, err error) {
	real, err := f.realPath(p)
	if err != nil {
		return nil, "!outside", err
	}
	entries, err := os.ReadDir(real)
	if err != nil {
		return nil, "!missing", err
	}
	names = make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	sum := sha256.Sum256([]byte(strings.Join(names, "\x00")))
	return names, hex.EncodeToString(sum[:16]), nil
}

// probe returns the state of the path a recorded dependency key names,
// exactly as the build saw it then; the cache compares the two.
func (f *repoFS) probe(key string) string {
	kind, rel := key[0], key[2:]
	p := f.abs(filepath.FromSlash(rel))
	switch kind {
	case 'f':
		_, fi, err := f.realStat(p)
		switch {
		case err != nil:
			return "!outside"
		case fi == nil:
			return "!missing"
		case fi.IsDir():
			return "!dir"
		}
		if state, ok := f.cache.knownFile(p, fi); ok {
			return state
		}
		_, state, _ := f.readState(p)
		return state
	case 's':
		state, _, _, _ := f.statState(p)
		return state
	case 'l':
		_, state, _ := f.listState(p)
		return state
	case 'g':
		_, state, _ := f.globState(p)
		return state
	}
	return ""
}

func (f *repoFS) isVirtual(real string) bool { _, ok := f.virtual[real]; return ok }

// ReadFile returns the content of a file inside the root. A kustomization
// is checked for remote and escaping references before krusty sees it.
func (f *repoFS) ReadFile(p string) ([]byte, error) {
	abs := f.abs(p)
	real, err := f.resolve(abs)
	if err != nil {
		return nil, err
	}
	if f.hidden[real] {
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	if v, ok := f.virtual[real]; ok {
		return bytes.Clone(v), nil
	}
	if f.inClone(real) {
		return os.ReadFile(real)
	}
	data, state, err := f.readState(abs)
	f.record("f:", abs, state)
	if err != nil {
		return nil, err
	}
	f.rec.read(f.rel(abs))
	if isKustomizationName(filepath.Base(real)) {
		return f.inspectKustomization(real, data)
	}
	return data, nil
}

// Open opens a file for reading; see ReadFile.
func (f *repoFS) Open(p string) (filesys.File, error) {
	if _, err := f.ReadFile(p); err != nil {
		return nil, err
	}
	real, err := f.resolve(f.abs(p))
	if err != nil {
		return nil, err
	}
	return os.Open(real)
}

// Exists reports whether p exists inside the root.
func (f *repoFS) Exists(p string) bool {
	state, _ := f.stat(p)
	return state != "" && !strings.HasPrefix(state, "missing") && state != "!outside"
}

// IsDir reports whether p is a directory inside the root.
func (f *repoFS) IsDir(p string) bool {
	state, _ := f.stat(p)
	return strings.HasPrefix(state, "dir")
}

func (f *repoFS) stat(p string) (string, string) {
	abs := f.abs(p)
	if real, err := f.realPath(abs); err == nil {
		if f.hidden[real] {
			return "missing", real
		}
		if f.isVirtual(real) {
			return "file", real
		}
	}
	state, _, real, err := f.statState(abs)
	if err != nil {
		f.rec.violate(f.rel(abs), err)
		return "!outside", ""
	}
	if !f.inClone(abs) {
		f.record("s:", abs, state)
	}
	return state, real
}

// CleanedAbs splits p into its real directory and file name, as kyaml's
// on-disk file system does.
func (f *repoFS) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	state, real := f.stat(p)
	switch {
	case state == "!outside":
		_, err := f.realPath(f.abs(p))
		return "", "", err
	case strings.HasPrefix(state, "missing"):
		return "", "", &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
	case strings.HasPrefix(state, "dir"):
		return filesys.ConfirmedDir(real), "", nil
	}
	return filesys.ConfirmedDir(filepath.Dir(real)), filepath.Base(real), nil
}

// ReadDir lists the names in a directory inside the root.
func (f *repoFS) ReadDir(p string) ([]string, error) {
	abs := f.abs(p)
	if _, err := f.resolve(abs); err != nil {
		return nil, err
	}
	names, state, err := f.listState(abs)
	if !f.inClone(abs) {
		f.record("l:", abs, state)
	}
	return names, err
}

// globState matches an absolute clean pattern inside the root.
func (f *repoFS) globState(pattern string) ([]string, string, error) {
	if !within(f.root, pattern) && !f.inClone(pattern) {
		return nil, "!outside", fmt.Errorf("pattern '%s' is %w", pattern, ErrOutsideRoot)
	}
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return nil, "!bad", err
	}
	kept := matches[:0]
	for _, m := range matches {
		if _, err := f.realPath(m); err == nil {
			kept = append(kept, m)
		}
	}
	sum := sha256.Sum256([]byte(strings.Join(kept, "\x00")))
	return kept, hex.EncodeToString(sum[:16]), nil
}

// Glob returns the paths inside the root that match pattern.
func (f *repoFS) Glob(pattern string) ([]string, error) {
	abs := f.abs(pattern)
	matches, state, err := f.globState(abs)
	if err != nil {
		f.rec.violate(f.rel(abs), err)
		return nil, err
	}
	f.rec.add("g:"+f.rel(abs), state)
	return matches, nil
}

// Walk walks the tree at p inside the root, in lexical order; symbolic
// links are followed only where they stay inside the root.
func (f *repoFS) Walk(p string, walkFn filepath.WalkFunc) error {
	abs := f.abs(p)
	real, err := f.resolve(abs)
	if err != nil {
		return walkFn(p, nil, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return walkFn(p, nil, err)
	}
	err = f.walk(abs, fi, walkFn)
	if errors.Is(err, filepath.SkipDir) || errors.Is(err, filepath.SkipAll) {
		return nil
	}
	return err
}

func (f *repoFS) walk(p string, fi os.FileInfo, walkFn filepath.WalkFunc) error {
	if err := walkFn(p, fi, nil); err != nil || !fi.IsDir() {
		return err
	}
	names, err := f.ReadDir(p)
	if err != nil {
		return walkFn(p, fi, err)
	}
	for _, name := range names {
		child := filepath.Join(p, name)
		real, err := f.resolve(child)
		var cfi os.FileInfo
		if err == nil {
			cfi, err = os.Stat(real)
		}
		if err != nil {
			if werr := walkFn(child, nil, err); werr != nil && !errors.Is(werr, filepath.SkipDir) {
				return werr
			}
			continue
		}
		if err := f.walk(child, cfi, walkFn); err != nil {
			if errors.Is(err, filepath.SkipDir) {
				if cfi.IsDir() {
					continue
				}
				return nil
			}
			return err
		}
	}
	return nil
}

// writable reports whether kustomize may write at p: only inside its own
// temporary clones of remote bases, when those are allowed.
func (f *repoFS) writable(p string) error {
	if f.inClone(f.abs(p)) {
		return nil
	}
	return fmt.Errorf("unable to write '%s': %w", f.rel(f.abs(p)), ErrReadOnly)
}

// Create refuses, except inside a remote clone.
func (f *repoFS) Create(p string) (filesys.File, error) {
	if err := f.writable(p); err != nil {
		return nil, err
	}
	return os.Create(p)
}

// Mkdir refuses, except inside a remote clone.
func (f *repoFS) Mkdir(p string) error {
	if err := f.writable(p); err != nil {
		return err
	}
	return os.Mkdir(p, 0o700)
}

// MkdirAll refuses, except inside a remote clone.
func (f *repoFS) MkdirAll(p string) error {
	if err := f.writable(p); err != nil {
		return err
	}
	return os.MkdirAll(p, 0o700)
}

// RemoveAll refuses, except inside a remote clone (its clean-up).
func (f *repoFS) RemoveAll(p string) error {
	if err := f.writable(p); err != nil {
		return err
	}
	return os.RemoveAll(p)
}

// WriteFile refuses, except inside a remote clone.
func (f *repoFS) WriteFile(p string, data []byte) error {
	if err := f.writable(p); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o600)
}

// isKustomizationName reports whether name is one kustomize looks for.
func isKustomizationName(name string) bool {
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		if name == n {
			return true
		}
	}
	return false
}
