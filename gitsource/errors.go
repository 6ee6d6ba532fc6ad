package gitsource

import "errors"

var (
	// ErrReferenceNotFound means the branch or tag does not exist on the
	// remote, or the commit is not in the repository.
	ErrReferenceNotFound = errors.New("reference not found")

	// ErrCommitNotReachable means a commit was asked for together with a
	// branch, and the branch does not contain it.
	ErrCommitNotReachable = errors.New("commit is not reachable from the branch")

	// ErrMissingKnownHosts means an SSH source has no known_hosts to verify
	// the server's host key with, and host key checking was not disabled.
	ErrMissingKnownHosts = errors.New("known_hosts is required to verify the SSH host key")

	// ErrInvalidAuth means the Secret's data cannot be turned into
	// credentials for the source's URL.
	ErrInvalidAuth = errors.New("invalid authentication data")

	// ErrUnsupportedURL means the URL is not http://, https:// or ssh://.
	ErrUnsupportedURL = errors.New("unsupported repository URL")

	// ErrCacheUnwritable means the cache directory refused a write: its
	// filesystem is read-only or full, over quota, or not writable by this
	// process. The last good checkout stays on disk.
	ErrCacheUnwritable = errors.New("the git cache cannot be written")

	// ErrVerificationFailed is wrapped by the VerificationError of a
	// revision with a commit that no trusted key signed.
	ErrVerificationFailed = errors.New("commit verification failed")

	// ErrNoVerificationKeys means verification was asked for with no
	// trusted key to verify with.
	ErrNoVerificationKeys = errors.New("no verification keys")

	// ErrInvalidVerificationKey means a trusted key cannot be read.
	ErrInvalidVerificationKey = errors.New("invalid verification key")
)
