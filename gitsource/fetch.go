package gitsource

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
)

// sourceFile records which URL the cache was cloned from, so a JobSource
// whose URL changes starts from a fresh clone instead of mixing refs.
const sourceFile = "source"

// openRepo opens the cached bare repository, or creates an empty one that
// the first fetch fills: that fetch is the one clone.
func (c *Client) openRepo() (*git.Repository, error) {
	marker := filepath.Join(c.dir, sourceFile)
	want := redactURL(c.url) + "\n"
	if got, err := os.ReadFile(marker); err == nil && string(got) != want {
		if err := os.RemoveAll(c.repoDir()); err != nil {
			return nil, fmt.Errorf("unable to reset cache '%s': %w", c.repoDir(), err)
		}
	}
	repo, err := git.PlainOpen(c.repoDir())
	if errors.Is(err, git.ErrRepositoryNotExists) {
		repo, err = git.PlainInit(c.repoDir(), true)
	}
	if err != nil {
		return nil, fmt.Errorf("unable to open cache '%s': %w", c.repoDir(), err)
	}
	if err := os.WriteFile(marker, []byte(want), 0o644); err != nil {
		return nil, fmt.Errorf("unable to write '%s': %w", marker, err)
	}
	return repo, nil
}

// refSpecs returns what to fetch for ref, always forced ("+") so that a
// force-pushed branch or a moved tag replaces what the cache holds. A bare
// commit needs every branch and tag, because servers do not, by default,
// serve a commit asked for by hash.
func refSpecs(ref Ref) (specs []config.RefSpec, wildcard bool) {
	switch {
	case ref.Commit != "" && ref.Branch == "":
		return []config.RefSpec{
			"+refs/heads/*:refs/remotes/origin/*",
			"+refs/tags/*:refs/tags/*",
		}, true
	case ref.Commit == "" && ref.Tag != "":
		return []config.RefSpec{config.RefSpec(fmt.Sprintf("+refs/tags/%s:refs/tags/%[1]s", ref.Tag))}, false
	default:
		return []config.RefSpec{config.RefSpec(fmt.Sprintf("+refs/heads/%s:refs/remotes/origin/%[1]s", ref.Branch))}, false
	}
}

// fetch brings the refs that ref needs into the cache. Only objects the
// cache lacks cross the wire: go-git tells the server what it already has.
func (c *Client) fetch(ctx context.Context, repo *git.Repository, ref Ref) error {
	specs, wildcard := refSpecs(ref)
	for _, s := range specs {
		if err := s.Validate(); err != nil {
			return fmt.Errorf("%w: invalid reference '%s': %w", ErrReferenceNotFound, s.Src(), err)
		}
	}
	// An unsaved remote keeps the URL, which may carry credentials, out of
	// the cache's config file.
	remote := git.NewRemote(repo.Storer, &config.RemoteConfig{Name: git.DefaultRemoteName, URLs: []string{c.url}})
	err := remote.FetchContext(ctx, &git.FetchOptions{
		RefSpecs:        specs,
		Auth:            c.auth,
		Tags:            git.NoTags,
		Force:           true,
		Prune:           wildcard,
		CABundle:        c.secret[keyCA],
		InsecureSkipTLS: c.insecureTLS,
	})
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
		return nil
	case errors.Is(err, git.NoMatchingRefSpecError{}):
		return fmt.Errorf("%w: %w", ErrReferenceNotFound, redact(err, c.secrets()...))
	default:
		return redact(err, c.secrets()...)
	}
}

// hasCommit reports whether the cache already holds the commit, so a
// pinned commit needs no network at all.
func hasCommit(repo *git.Repository, hash plumbing.Hash) bool {
	_, err := repo.CommitObject(hash)
	return err == nil
}
