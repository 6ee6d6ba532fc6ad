package gitsource

import (
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
)

// Keys of the Secret data that WithAuth reads.
const (
	keyUsername    = "username"
	keyPassword    = "password"
	keyBearerToken = "bearerToken"
	keyCA          = "ca.crt"
	keyIdentity    = "identity"
	keyKnownHosts  = "known_hosts"
)

// secrets lists the values that must never appear in an error.
func (c *Client) secrets() []string {
	var out []string
	for _, k := range []string{keyPassword, keyBearerToken} {
		if v := c.secret[k]; len(v) > 0 {
			out = append(out, string(v))
		}
	}
	return out
}

// buildAuth turns the Secret data into a go-git auth method for the
// endpoint's protocol; nil means anonymous.
func (c *Client) buildAuth(ep *transport.Endpoint) (transport.AuthMethod, error) {
	switch ep.Protocol {
	case "http", "https":
		return c.httpAuth()
	case "ssh":
		return c.sshAuth(ep)
	default:
		return nil, fmt.Errorf("%w: scheme '%s'", ErrUnsupportedURL, ep.Protocol)
	}
}

func (c *Client) httpAuth() (transport.AuthMethod, error) {
	user, pass, token := c.secret[keyUsername], c.secret[keyPassword], c.secret[keyBearerToken]
	if ca := c.secret[keyCA]; len(ca) > 0 {
		if ok := x509.NewCertPool().AppendCertsFromPEM(ca); !ok {
			return nil, fmt.Errorf("%w: '%s' holds no PEM certificate", ErrInvalidAuth, keyCA)
		}
	}
	switch {
	case len(token) > 0 && (len(user) > 0 || len(pass) > 0):
		return nil, fmt.Errorf("%w: '%s' and '%s'/'%s' are mutually exclusive", ErrInvalidAuth, keyBearerToken, keyUsername, keyPassword)
	case len(token) > 0:
		return &githttp.TokenAuth{Token: string(token)}, nil
	case len(user) > 0 || len(pass) > 0:
		if len(user) == 0 {
			return nil, fmt.Errorf("%w: '%s' without '%s'", ErrInvalidAuth, keyPassword, keyUsername)
		}
		return &githttp.BasicAuth{Username: string(user), Password: string(pass)}, nil
	}
	return nil, nil
}

func (c *Client) sshAuth(ep *transport.Endpoint) (transport.AuthMethod, error) {
	identity := c.secret[keyIdentity]
	if len(identity) == 0 {
		return nil, fmt.Errorf("%w: '%s' is required for SSH", ErrInvalidAuth, keyIdentity)
	}
	user := ep.User
	if user == "" {
		user = "git"
	}
	keys, err := gitssh.NewPublicKeys(user, identity, string(c.secret[keyPassword]))
	if err != nil {
		// The parser's message names no key material, but scrub anyway.
		return nil, fmt.Errorf("%w: unable to parse '%s': %w", ErrInvalidAuth, keyIdentity, redact(err, c.secrets()...))
	}
	if c.insecureHostKey {
		keys.HostKeyCallback = ssh.InsecureIgnoreHostKey()
		return &timedKeys{PublicKeys: keys, timeout: c.timeout}, nil
	}
	known := c.secret[keyKnownHosts]
	if len(strings.TrimSpace(string(known))) == 0 {
		return nil, ErrMissingKnownHosts
	}
	// knownhosts reads files only; the file holds public keys, no secret.
	path := filepath.Join(c.dir, "known_hosts")
	if err := os.WriteFile(path, known, 0o600); err != nil {
		return nil, fmt.Errorf("unable to write '%s': %w", path, err)
	}
	db, err := knownhosts.NewDB(path)
	if err != nil {
		return nil, fmt.Errorf("%w: unable to parse '%s': %w", ErrInvalidAuth, keyKnownHosts, err)
	}
	keys.HostKeyCallback = db.HostKeyCallback()
	// Offer only the algorithms of the keys we know, so a server with
	// several host keys presents one we can check.
	keys.HostKeyAlgorithms = db.HostKeyAlgorithms(net.JoinHostPort(ep.Host, fmt.Sprint(sshPort(ep))))
	return &timedKeys{PublicKeys: keys, timeout: c.timeout}, nil
}

// timedKeys bounds the SSH dial by the Client's timeout: go-git dials SSH
// without the fetch's context, which covers only the git protocol after it.
type timedKeys struct {
	*gitssh.PublicKeys
	timeout time.Duration
}

// ClientConfig implements gitssh.AuthMethod.
func (k *timedKeys) ClientConfig() (*ssh.ClientConfig, error) {
	cfg, err := k.PublicKeys.ClientConfig()
	if err != nil {
		return nil, err
	}
	cfg.Timeout = k.timeout
	return cfg, nil
}

func sshPort(ep *transport.Endpoint) int {
	if ep.Port == 0 {
		return 22
	}
	return ep.Port
}

var _ gitssh.AuthMethod = (*timedKeys)(nil)
