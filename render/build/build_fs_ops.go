package build

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

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
	if errors.Is(err, ErrTooLarge) {
		f.rec.violate(f.rel(abs), err)
	}
	if err != nil {
		return nil, err
	}
	f.rec.read(f.rel(abs))
	if err := checkAliases(data); err != nil {
		f.rec.violate(f.rel(abs), err)
		return nil, err
	}
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
	return kept, digest([]byte(strings.Join(kept, "\x00"))), nil
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
