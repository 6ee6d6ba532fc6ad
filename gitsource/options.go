package gitsource

import (
	"log/slog"
	"time"
)

// DefaultTimeout bounds one Checkout (the clone or fetch and the writing of
// the tree) when WithTimeout is not given.
const DefaultTimeout = 60 * time.Second

// Option configures a Client.
type Option func(*Client)

// WithAuth sets the credentials from a Secret's data. Keys:
//   - "username" and "password": HTTPS basic authentication;
//   - "bearerToken": an HTTPS "Authorization: Bearer" token;
//   - "ca.crt": PEM certificates trusted for HTTPS in addition to the system roots;
//   - "identity": a PEM private key for SSH, with "password" when it is encrypted;
//   - "known_hosts": the SSH host keys the server must present.
//
// The map is copied.
func WithAuth(data map[string][]byte) Option {
	return func(c *Client) {
		c.secret = make(map[string][]byte, len(data))
		for k, v := range data {
			c.secret[k] = append([]byte(nil), v...)
		}
	}
}

// WithTimeout bounds each Checkout; zero or less keeps DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithInsecureSkipHostKeyCheck accepts any SSH host key. It exists for
// tests and for users who say so explicitly; known_hosts is otherwise
// required for SSH.
func WithInsecureSkipHostKeyCheck() Option {
	return func(c *Client) { c.insecureHostKey = true }
}

// WithInsecureSkipTLSVerify accepts any HTTPS server certificate. It exists
// for users who say so explicitly; the certificate is otherwise verified
// against the system roots and the Secret's "ca.crt".
func WithInsecureSkipTLSVerify() Option {
	return func(c *Client) { c.insecureTLS = true }
}

// WithLogger sets the logger; the default is slog.Default(). Log lines carry
// the redacted URL and never a credential.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) {
		if l != nil {
			c.log = l
		}
	}
}
