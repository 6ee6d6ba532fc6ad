package gitsource

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Revision names a commit as "<ref>@sha1:<40 hex>", the form Flux uses.
type Revision struct {
	// Ref is what was asked for: a branch, a tag, HEAD, or a commit; empty
	// for a commit checked out without a branch.
	Ref string
	// Hash is the commit's SHA-1.
	Hash plumbing.Hash
}

// String returns "<ref>@sha1:<hex>", or "sha1:<hex>" for a commit checked
// out without a branch, as Flux writes them.
func (r Revision) String() string {
	if r.Ref == "" {
		return "sha1:" + r.Hash.String()
	}
	return fmt.Sprintf("%s@sha1:%s", r.Ref, r.Hash)
}

// Export resolves rev (a branch, tag, HEAD~n, or commit hash) in the
// repository holding repoDir and writes that commit's tree into dst, which
// must exist. Submodules are not followed; symlinks are written as symlinks,
// so a rooted reader still sees one that points out of the tree.
func Export(repoDir, rev, dst string) (Revision, error) {
	repo, err := openRepo(repoDir)
	if err != nil {
		return Revision{}, err
	}
	tree, r, err := revisionTree(repo, repoDir, rev)
	if err != nil {
		return Revision{}, err
	}
	if err := writeTree(tree, dst); err != nil {
		return Revision{}, fmt.Errorf("unable to write revision '%s': %w", rev, err)
	}
	return r, nil
}

func openRepo(repoDir string) (*git.Repository, error) {
	repo, err := git.PlainOpenWithOptions(repoDir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("unable to open git repository '%s': %w", repoDir, err)
	}
	return repo, nil
}

// revisionTree resolves rev to its commit's tree.
func revisionTree(repo *git.Repository, repoDir, rev string) (*object.Tree, Revision, error) {
	hash, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, Revision{}, fmt.Errorf("unable to resolve revision '%s' in '%s': %w", rev, repoDir, err)
	}
	commit, err := repo.CommitObject(*hash)
	if err != nil {
		return nil, Revision{}, fmt.Errorf("revision '%s' is not a commit: %w", rev, err)
	}
	tree, err := commit.Tree()
	if err != nil {
		return nil, Revision{}, fmt.Errorf("unable to read the tree of '%s': %w", rev, err)
	}
	return tree, Revision{Ref: rev, Hash: *hash}, nil
}

func writeTree(tree *object.Tree, dst string) error {
	walker := object.NewTreeWalker(tree, true, nil)
	defer walker.Close()
	for {
		name, entry, err := walker.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := checkEntryName(name); err != nil {
			return err
		}
		target := filepath.Join(dst, filepath.FromSlash(name))
		switch entry.Mode {
		case filemode.Dir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case filemode.Submodule:
			continue
		default:
			if err := writeEntry(tree, name, entry, target); err != nil {
				return err
			}
		}
	}
}

func writeEntry(tree *object.Tree, name string, entry object.TreeEntry, target string) error {
	f, err := tree.TreeEntryFile(&entry)
	if err != nil {
		return fmt.Errorf("unable to read '%s': %w", name, err)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	r, err := f.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	if entry.Mode == filemode.Symlink {
		link, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		return os.Symlink(string(link), target)
	}
	mode := os.FileMode(0o644)
	if entry.Mode == filemode.Executable {
		mode = 0o755
	}
	out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
