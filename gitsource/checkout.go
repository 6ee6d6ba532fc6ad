package gitsource

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Checkout fetches ref and writes its revision into the cache's checkout
// directory. The first call clones; later calls fetch only what is new.
// Each call is bounded by the Client's timeout, even where go-git does not
// watch the context (the SSH handshake): the caller gets its error on time,
// and a later call waits for the stuck one to give up.
//
// On any error the previous checkout stays on disk untouched and LastGood
// still returns it; the error is wrapped and free of credentials, and
// wraps ErrCacheUnwritable when the cache directory refused a write.
func (c *Client) Checkout(ctx context.Context, ref Ref) (Snapshot, error) {
	return c.checkoutBounded(ctx, ref, nil)
}

// CheckoutVerified is Checkout for a source whose commits must be signed:
// the commits v asks for are verified after the fetch and before anything
// is written, so a revision that fails is never checked out. The error is
// then a *VerificationError naming the commit, its committer and the key
// that signed it, and LastGood still returns the previous checkout.
func (c *Client) CheckoutVerified(ctx context.Context, ref Ref, v Verification) (Snapshot, error) {
	return c.checkoutBounded(ctx, ref, &v)
}

func (c *Client) checkoutBounded(ctx context.Context, ref Ref, v *Verification) (Snapshot, error) {
	ref = normalize(ref)
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	select {
	case c.busy <- struct{}{}:
	case <-ctx.Done():
		return Snapshot{}, fmt.Errorf("unable to fetch '%s' from '%s': an earlier fetch is still running: %w",
			describe(ref), redactURL(c.url), ctx.Err())
	}
	type outcome struct {
		snap Snapshot
		err  error
	}
	done := make(chan outcome, 1)
	go func() {
		defer func() { <-c.busy }()
		snap, err := c.checkout(ctx, ref, v)
		done <- outcome{snap, c.storageError(err)}
	}()
	select {
	case o := <-done:
		return o.snap, o.err
	case <-ctx.Done():
		return Snapshot{}, fmt.Errorf("unable to fetch '%s' from '%s': %w", describe(ref), redactURL(c.url), ctx.Err())
	}
}

// checkout does the work of Checkout, verifying the revision when v is
// set; only one runs at a time.
func (c *Client) checkout(ctx context.Context, ref Ref, v *Verification) (Snapshot, error) {
	if ref.Commit != "" && !plumbing.IsHash(ref.Commit) {
		return Snapshot{}, fmt.Errorf("%w: commit '%s' is not a 40-character SHA-1", ErrReferenceNotFound, ref.Commit)
	}
	start := time.Now()
	repo, err := c.openRepo()
	if err != nil {
		return Snapshot{}, err
	}
	if ref.Commit == "" || ref.Branch != "" || !hasCommit(repo, plumbing.NewHash(ref.Commit)) {
		if err := c.fetch(ctx, repo, ref); err != nil {
			return Snapshot{}, fmt.Errorf("unable to fetch '%s' from '%s': %w", describe(ref), redactURL(c.url), err)
		}
	}
	rev, err := resolve(repo, ref)
	if err != nil {
		return Snapshot{}, fmt.Errorf("unable to resolve '%s' in '%s': %w", describe(ref), redactURL(c.url), err)
	}
	if v != nil {
		signed, err := verify(repo, rev, *v)
		if err != nil {
			return Snapshot{}, err
		}
		c.log.Info("verified", "revision", rev.String(), "commits", len(signed), "signer", signed[0].Signer)
	}
	// A checkout that outlived its caller must not swap the directory that
	// caller may now be reading as the last good one.
	if err := ctx.Err(); err != nil {
		return Snapshot{}, fmt.Errorf("unable to check out '%s': %w", rev, err)
	}
	dir, err := c.export(repo, rev)
	if err != nil {
		return Snapshot{}, fmt.Errorf("unable to check out '%s': %w", rev, err)
	}
	snap := Snapshot{Revision: rev, Dir: dir}
	c.mu.Lock()
	c.last = snap
	c.mu.Unlock()
	c.log.Info("checked out", "revision", rev.String(), "duration", time.Since(start))
	return snap, nil
}

// normalize applies the precedence of a JobSource's ref: Commit over Tag
// over Branch, and the default branch when nothing is named.
func normalize(ref Ref) Ref {
	switch {
	case ref.Commit != "":
		return Ref{Branch: ref.Branch, Commit: strings.ToLower(ref.Commit)}
	case ref.Tag != "":
		return Ref{Tag: ref.Tag}
	case ref.Branch != "":
		return Ref{Branch: ref.Branch}
	default:
		return Ref{Branch: DefaultBranch}
	}
}

func describe(ref Ref) string {
	switch {
	case ref.Commit != "" && ref.Branch != "":
		return ref.Branch + "@" + ref.Commit
	case ref.Commit != "":
		return ref.Commit
	case ref.Tag != "":
		return "tag " + ref.Tag
	default:
		return "branch " + ref.Branch
	}
}

// resolve finds the commit that ref names in the fetched cache.
func resolve(repo *git.Repository, ref Ref) (Revision, error) {
	switch {
	case ref.Commit != "":
		return resolveCommit(repo, ref)
	case ref.Tag != "":
		hash, err := peel(repo, plumbing.NewTagReferenceName(ref.Tag))
		if err != nil {
			return Revision{}, err
		}
		return Revision{Ref: ref.Tag, Hash: hash}, nil
	default:
		hash, err := peel(repo, plumbing.NewRemoteReferenceName(git.DefaultRemoteName, ref.Branch))
		if err != nil {
			return Revision{}, err
		}
		return Revision{Ref: ref.Branch, Hash: hash}, nil
	}
}

// peel follows a reference, through an annotated tag if there is one, to
// its commit.
func peel(repo *git.Repository, name plumbing.ReferenceName) (plumbing.Hash, error) {
	r, err := repo.Reference(name, true)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("%w: '%s'", ErrReferenceNotFound, name.Short())
	}
	hash := r.Hash()
	if tag, err := repo.TagObject(hash); err == nil {
		commit, err := tag.Commit()
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("tag '%s' does not point to a commit: %w", name.Short(), err)
		}
		return commit.Hash, nil
	}
	return hash, nil
}

func resolveCommit(repo *git.Repository, ref Ref) (Revision, error) {
	hash := plumbing.NewHash(ref.Commit)
	commit, err := repo.CommitObject(hash)
	if err != nil {
		return Revision{}, fmt.Errorf("%w: commit '%s'", ErrReferenceNotFound, ref.Commit)
	}
	if ref.Branch == "" {
		return Revision{Hash: hash}, nil
	}
	headHash, err := peel(repo, plumbing.NewRemoteReferenceName(git.DefaultRemoteName, ref.Branch))
	if err != nil {
		return Revision{}, err
	}
	if headHash != hash {
		head, err := repo.CommitObject(headHash)
		if err != nil {
			return Revision{}, fmt.Errorf("unable to read the head of branch '%s': %w", ref.Branch, err)
		}
		ok, err := commit.IsAncestor(head)
		if err != nil {
			return Revision{}, fmt.Errorf("unable to walk branch '%s': %w", ref.Branch, err)
		}
		if !ok {
			return Revision{}, fmt.Errorf("%w: commit '%s', branch '%s'", ErrCommitNotReachable, ref.Commit, ref.Branch)
		}
	}
	return Revision{Ref: ref.Branch, Hash: hash}, nil
}

// export writes rev's tree to checkouts/<hash>, reusing it when it is
// already there. It writes to a temporary directory and renames, so a
// half-written tree is never returned; older checkouts are removed only
// after the new one is in place.
func (c *Client) export(repo *git.Repository, rev Revision) (string, error) {
	root := c.checkoutsDir()
	final := filepath.Join(root, rev.Hash.String())
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	if _, err := os.Stat(final); errors.Is(err, os.ErrNotExist) {
		commit, err := repo.CommitObject(rev.Hash)
		if err != nil {
			return "", err
		}
		tree, err := commit.Tree()
		if err != nil {
			return "", err
		}
		if err := writeAtomically(tree, root, final); err != nil {
			return "", err
		}
	} else if err != nil {
		return "", err
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if e.Name() != rev.Hash.String() {
			if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
				c.log.Warn("unable to remove an old checkout", "dir", e.Name(), "error", err)
			}
		}
	}
	return final, nil
}

func writeAtomically(tree *object.Tree, root, final string) error {
	tmp, err := os.MkdirTemp(root, ".tmp-")
	if err != nil {
		return err
	}
	if err := writeTree(tree, tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	return nil
}
