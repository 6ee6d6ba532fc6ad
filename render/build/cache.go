package build

import (
	"os"
	"path"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// racyWindow is how recent a file's change may be for its stat to be
// trusted next time. Within it a second write could keep the same size and
// timestamps (coarse file system clocks), so such a file is hashed again,
// as git does with "racily clean" index entries.
const racyWindow = 2 * time.Second

// cacheRetainPasses is how many Build calls an unused entry survives.
const cacheRetainPasses = 4

// Cache keeps the result of each unit's build, keyed on the content of
// exactly the files that build read, listed and probed (directory listings
// and existence checks included). A later Build rebuilds only the units
// whose files changed. Checking a file costs one stat when its size,
// timestamps, inode and mode are unchanged since it was last hashed, and a
// hash of its content otherwise, so a changed checkout directory with
// identical content still hits. A Cache is safe for concurrent use; keep
// one per source (repository and path) in a long-lived process. Units that
// read remote bases are never cached.
type Cache struct {
	// hits and misses count unit lookups, for tests.
	hits, misses atomic.Int64

	mu    sync.Mutex
	pass  uint64
	units map[string]*unitEntry
	files map[string]*fileState
}

// NewCache returns an empty Cache.
func NewCache() *Cache {
	return &Cache{units: map[string]*unitEntry{}, files: map[string]*fileState{}}
}

type unitEntry struct {
	deps     []cacheDep
	dirs     map[string]dirNote
	jobs     []Job
	objects  []Object
	err      *BuildError
	lastPass uint64
}

type cacheDep struct{ key, state string }

type fileState struct {
	fp       fingerprint
	trusted  bool
	state    string
	lastPass uint64
}

// fingerprint is what a stat tells about a file without reading it.
type fingerprint struct {
	size, mtime, ctime int64
	ino, dev           uint64
	mode               os.FileMode
}

// beginPass starts a Build: entries not used for cacheRetainPasses passes
// are dropped, so units removed from the repository do not pile up.
func (c *Cache) beginPass() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pass++
	for k, e := range c.units {
		if e.lastPass+cacheRetainPasses < c.pass {
			delete(c.units, k)
		}
	}
	for k, s := range c.files {
		if s.lastPass+cacheRetainPasses < c.pass {
			delete(c.files, k)
		}
	}
	return c.pass
}

// rememberFile records the stat taken before the file at the absolute path
// p was read and hashed to state.
func (c *Cache) rememberFile(p string, fi os.FileInfo, state string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.files[p] = &fileState{fp: fingerprintOf(fi), trusted: notRacy(fi), state: state, lastPass: c.pass}
	c.mu.Unlock()
}

// notRacy reports whether a file changed long enough ago for its stat to
// tell any later change.
func notRacy(fi os.FileInfo) bool {
	fp := fingerprintOf(fi)
	return time.Since(fi.ModTime()) > racyWindow && time.Since(time.Unix(0, fp.ctime)) > racyWindow
}

// knownFile returns the content state of the file at p when its stat fi
// shows it unchanged since it was hashed.
func (c *Cache) knownFile(p string, fi os.FileInfo) (string, bool) {
	if c == nil {
		return "", false
	}
	c.mu.Lock()
	s, ok := c.files[p]
	c.mu.Unlock()
	if !ok || !s.trusted || fingerprintOf(fi) != s.fp {
		return "", false
	}
	c.mu.Lock()
	s.lastPass = c.pass
	c.mu.Unlock()
	return s.state, true
}

// cachePass validates cache entries during one Build: the state of each
// dependency is probed once, however many units share it.
type cachePass struct {
	c      *Cache
	fs     *repoFS
	memo   sync.Map // dependency key → state
	dirFPs sync.Map // directory → fingerprint now
	pass   uint64
}

func (c *Cache) newPass(fsys *repoFS) *cachePass {
	if c == nil {
		return nil
	}
	fsys.cache = c
	return &cachePass{c: c, fs: fsys, pass: c.beginPass()}
}

func (p *cachePass) state(key string) string {
	if v, ok := p.memo.Load(key); ok {
		return v.(string)
	}
	s := p.fs.probe(key)
	p.memo.Store(key, s)
	return s
}

// lookup returns the cached result of a unit when none of the files its
// build read has changed; the jobs and objects are deep copies.
func (p *cachePass) lookup(key string) (unitResult, bool) {
	if p == nil {
		return unitResult{}, false
	}
	p.c.mu.Lock()
	e, ok := p.c.units[key]
	p.c.mu.Unlock()
	if !ok {
		p.c.misses.Add(1)
		return unitResult{}, false
	}
	for _, d := range e.deps {
		if p.entriesUnchanged(e, d) {
			continue
		}
		if p.state(d.key) != d.state {
			p.c.misses.Add(1)
			return unitResult{}, false
		}
	}
	p.c.hits.Add(1)
	p.c.mu.Lock()
	e.lastPass = p.pass
	p.c.mu.Unlock()
	return unitResult{jobs: copyJobs(e.jobs), objects: copyObjects(e.objects), err: copyBuildError(e.err)}, true
}

// entriesUnchanged reports whether a dependency on the existence or type
// of a path (or a directory listing) is known to hold without probing it:
// its directory, resolved afresh, has the stat it had when the build
// looked into it. File contents are always checked on their own.
func (p *cachePass) entriesUnchanged(e *unitEntry, d cacheDep) bool {
	kind, rel := d.key[:2], d.key[2:]
	switch {
	case kind == "s:", kind == "f:" && (d.state == "!missing" || d.state == "!dir"):
		rel = path.Dir(rel)
	case kind != "l:":
		return false
	}
	note, ok := e.dirs[rel]
	if !ok || !note.trusted {
		return false
	}
	v, ok := p.dirFPs.Load(rel)
	if !ok {
		var fp fingerprint
		if _, fi, err := p.fs.realStat(p.fs.abs(filepath.FromSlash(rel))); err == nil && fi != nil {
			fp = fingerprintOf(fi)
		}
		v, _ = p.dirFPs.LoadOrStore(rel, fp)
	}
	return v.(fingerprint) == note.fp
}

// store caches a unit's result with the dependencies its build recorded.
func (p *cachePass) store(key string, res unitResult) {
	rec := res.rec
	if p == nil || rec.remote {
		return
	}
	deps := make([]cacheDep, 0, len(rec.deps))
	for k, s := range rec.deps {
		deps = append(deps, cacheDep{key: k, state: s})
		// Later units of this pass see what this build saw.
		p.memo.LoadOrStore(k, s)
	}
	sort.Slice(deps, func(i, j int) bool { return deps[i].key < deps[j].key })
	e := &unitEntry{deps: deps, dirs: rec.dirs, jobs: copyJobs(res.jobs), objects: copyObjects(res.objects), err: copyBuildError(res.err), lastPass: p.pass}
	p.c.mu.Lock()
	p.c.units[key] = e
	p.c.mu.Unlock()
}

func copyJobs(jobs []Job) []Job {
	if jobs == nil {
		return nil
	}
	out := make([]Job, len(jobs))
	for i, j := range jobs {
		out[i] = j
		out[i].Object = j.Object.DeepCopy()
		out[i].Findings = append(j.Findings[:0:0], j.Findings...)
	}
	return out
}

func copyBuildError(e *BuildError) *BuildError {
	if e == nil {
		return nil
	}
	c := *e
	return &c
}
