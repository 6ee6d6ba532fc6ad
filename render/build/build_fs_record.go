package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

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
	if err := checkSize(fi.Size()); err != nil {
		return nil, "!toolarge", err
	}
	data, err = os.ReadFile(real)
	if err != nil {
		return nil, "!unreadable", err
	}
	state = digest(data)
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
	return names, digest([]byte(strings.Join(names, "\x00"))), nil
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

// digest is the state of a file or a listing the cache compares: the hex
// of the first 16 bytes of its SHA-256.
func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}
