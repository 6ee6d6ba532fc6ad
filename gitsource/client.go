package gitsource

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

// Ref selects what to check out, as a JobSource's ref does: Commit wins over
// Tag, Tag over Branch, and an empty Ref means the branch "main". A Commit
// given with a Branch must be reachable from that branch.
type Ref struct {
	Branch string
	Tag    string
	Commit string
}

// DefaultBranch is followed when a Ref names nothing.
const DefaultBranch = "main"

// Snapshot is a checked-out revision.
type Snapshot struct {
	// Revision is "<ref>@sha1:<hex>", or "sha1:<hex>" for a bare commit.
	Revision Revision
	// Dir holds the revision's files, without a .git directory. It stays
	// until a later Checkout succeeds with a different revision.
	Dir string
}

// Client fetches one git repository into its own cache directory. Its
// methods are safe for concurrent use; checkouts run one at a time.
type Client struct {
	url             string
	dir             string
	secret          map[string][]byte
	timeout         time.Duration
	insecureHostKey bool
	insecureTLS     bool
	log             *slog.Logger

	auth transport.AuthMethod

	// busy lets one checkout at a time use the cache; it is a channel so
	// that waiting for it can give up with the context.
	busy chan struct{}

	mu   sync.Mutex // guards last
	last Snapshot
}

// New returns a Client for the repository at url, caching it under dir
// (created if missing; one dir per source). Credentials and TLS or SSH
// settings are checked here, so a bad Secret fails before any network call.
func New(url, dir string, opts ...Option) (*Client, error) {
	c := &Client{url: url, dir: dir, timeout: DefaultTimeout, log: slog.Default(), busy: make(chan struct{}, 1)}
	for _, opt := range opts {
		opt(c)
	}
	ep, err := transport.NewEndpoint(url)
	if err != nil {
		return nil, fmt.Errorf("%w '%s': %w", ErrUnsupportedURL, redactURL(url), redact(err, c.secrets()...))
	}
	switch ep.Protocol {
	case "http", "https", "ssh":
	default:
		return nil, fmt.Errorf("%w '%s': scheme '%s'", ErrUnsupportedURL, redactURL(url), ep.Protocol)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, c.storageError(fmt.Errorf("unable to create cache directory '%s': %w", dir, err))
	}
	if c.auth, err = c.buildAuth(ep); err != nil {
		return nil, fmt.Errorf("unable to configure credentials for '%s': %w", redactURL(url), err)
	}
	c.log = c.log.With("url", redactURL(url))
	return c, nil
}

// URL returns the repository URL with any credentials removed.
func (c *Client) URL() string { return redactURL(c.url) }

// LastGood returns the last successful checkout of this Client, and false
// when there has been none.
func (c *Client) LastGood() (Snapshot, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last, c.last.Dir != ""
}

func (c *Client) repoDir() string      { return filepath.Join(c.dir, "repo.git") }
func (c *Client) checkoutsDir() string { return filepath.Join(c.dir, "checkouts") }
