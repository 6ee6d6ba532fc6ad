package gitsource

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/utils/merkletrie"
)

// ExportChange turns dst, which holds the tree of the revision from as
// Export wrote it, into the tree of rev: the files that differ are written
// again, those rev lacks are removed, with the directories they leave
// empty (a tree has none). A review of two revisions so writes the second
// one's changes only, and the build cache sees unchanged files unchanged.
//
// Every removal comes before any write, so a path that was a symbolic link
// at from and is a directory at rev is gone before a file is written below
// it: nothing is ever written through a link.
func ExportChange(repoDir string, from Revision, rev, dst string) (Revision, error) {
	repo, err := openRepo(repoDir)
	if err != nil {
		return Revision{}, err
	}
	old, _, err := revisionTree(repo, repoDir, from.Hash.String())
	if err != nil {
		return Revision{}, err
	}
	tree, r, err := revisionTree(repo, repoDir, rev)
	if err != nil {
		return Revision{}, err
	}
	changes, err := old.Diff(tree)
	if err != nil {
		return Revision{}, fmt.Errorf("unable to compare '%s' with '%s': %w", from, rev, err)
	}
	for _, c := range changes {
		action, err := c.Action()
		if err != nil {
			return Revision{}, err
		}
		if action == merkletrie.Insert {
			continue
		}
		if err := removeEntry(dst, c.From.Name); err != nil {
			return Revision{}, fmt.Errorf("unable to write revision '%s': %w", rev, err)
		}
	}
	for _, c := range changes {
		action, err := c.Action()
		if err != nil {
			return Revision{}, err
		}
		if action == merkletrie.Delete || c.To.TreeEntry.Mode == filemode.Submodule {
			continue
		}
		name := c.To.Name
		if err := checkEntryName(name); err != nil {
			return Revision{}, err
		}
		if err := writeEntry(tree, name, c.To.TreeEntry, filepath.Join(dst, filepath.FromSlash(name))); err != nil {
			return Revision{}, fmt.Errorf("unable to write revision '%s': %w", rev, err)
		}
	}
	return r, nil
}

// removeEntry removes the file name (slash-separated, relative to dst) and
// then its parent directories while they are empty.
func removeEntry(dst, name string) error {
	if err := checkEntryName(name); err != nil {
		return err
	}
	target := filepath.Join(dst, filepath.FromSlash(name))
	if err := os.Remove(target); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for d := filepath.Dir(target); d != dst && strings.HasPrefix(d, dst+string(filepath.Separator)); d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			break // not empty: its parents are not either
		}
	}
	return nil
}

// checkEntryName refuses a tree entry name that would leave the checkout.
func checkEntryName(name string) error {
	if strings.HasPrefix(name, "/") || strings.Contains("/"+name+"/", "/../") {
		return fmt.Errorf("tree entry '%s' escapes the checkout", name)
	}
	return nil
}
