package gitsource

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/google/go-cmp/cmp"

	"github.com/sparkcd/sparkcd/internal/gittest"
)

// readJob returns job.yaml from a checkout.
func readJob(t *testing.T, s Snapshot) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.Dir, "job.yaml"))
	if err != nil {
		t.Fatalf("read checkout: %v", err)
	}
	return string(b)
}

func TestCheckoutHTTPAuth(t *testing.T) {
	u := newUpstream(t)
	first := u.commit(t, "one\n")
	u.git(t, "push", "-q", "origin", "main")

	tests := []struct {
		name     string
		server   func() *gittest.HTTPServer
		userinfo string
		secret   func(g *gittest.HTTPServer) map[string][]byte
		opts     []Option
	}{
		{name: "anonymous http", server: func() *gittest.HTTPServer {
			return gittest.StartHTTP(t, gittest.Handler(t, u.root, nil), false)
		}},
		{name: "basic auth", server: func() *gittest.HTTPServer {
			return gittest.StartHTTP(t, gittest.Handler(t, u.root, gittest.BasicAuth("alice", "s3cret-pw")), false)
		}, secret: func(*gittest.HTTPServer) map[string][]byte {
			return map[string][]byte{"username": []byte("alice"), "password": []byte("s3cret-pw")}
		}},
		{name: "basic auth in the url", userinfo: "alice:s3cret-pw", server: func() *gittest.HTTPServer {
			return gittest.StartHTTP(t, gittest.Handler(t, u.root, gittest.BasicAuth("alice", "s3cret-pw")), false)
		}},
		{name: "bearer token", server: func() *gittest.HTTPServer {
			return gittest.StartHTTP(t, gittest.Handler(t, u.root, gittest.BearerAuth("tok-123456")), false)
		}, secret: func(*gittest.HTTPServer) map[string][]byte {
			return map[string][]byte{"bearerToken": []byte("tok-123456")}
		}},
		{name: "https with ca.crt and token", server: func() *gittest.HTTPServer {
			return gittest.StartHTTP(t, gittest.Handler(t, u.root, gittest.BearerAuth("tok-123456")), true)
		}, secret: func(g *gittest.HTTPServer) map[string][]byte {
			return map[string][]byte{"bearerToken": []byte("tok-123456"), "ca.crt": g.CAPEM()}
		}},
		{name: "https with insecure skip verify", server: func() *gittest.HTTPServer {
			return gittest.StartHTTP(t, gittest.Handler(t, u.root, nil), true)
		}, opts: []Option{WithInsecureSkipTLSVerify()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := tt.server()
			opts := tt.opts
			if tt.secret != nil {
				opts = append(opts, WithAuth(tt.secret(g)))
			}
			cache := t.TempDir()
			c, err := New(g.URL(tt.userinfo), cache, opts...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Checkout(t.Context(), Ref{Branch: "main"})
			if err != nil {
				t.Fatal(err)
			}
			if want := "main@sha1:" + first; got.Revision.String() != want {
				t.Errorf("revision = %s, want %s", got.Revision, want)
			}
			if diff := cmp.Diff("one\n", readJob(t, got)); diff != "" {
				t.Errorf("job.yaml (-want +got):\n%s", diff)
			}
			if _, err := os.Stat(filepath.Join(got.Dir, ".git")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("checkout has a .git entry: %v", err)
			}
			for _, f := range []string{"repo.git/config", sourceFile} {
				b, err := os.ReadFile(filepath.Join(cache, f))
				if err != nil || strings.Contains(string(b), "s3cret-pw") || strings.Contains(string(b), "tok-123456") {
					t.Errorf("cache file %s holds a credential or is missing (%v):\n%s", f, err, b)
				}
			}
		})
	}
}

func TestCheckoutHTTPAuthErrors(t *testing.T) {
	u := newUpstream(t)
	u.commit(t, "one\n")
	u.git(t, "push", "-q", "origin", "main")
	basic := gittest.StartHTTP(t, gittest.Handler(t, u.root, gittest.BasicAuth("alice", "right-pw")), false)
	bearer := gittest.StartHTTP(t, gittest.Handler(t, u.root, gittest.BearerAuth("right-token")), true)

	tests := []struct {
		name    string
		url     string
		secret  map[string][]byte
		secrets []string // must not appear in the error
		wantIs  error
	}{
		{name: "wrong password", url: basic.URL(""), secret: map[string][]byte{
			"username": []byte("alice"), "password": []byte("wrong-pw-42"),
		}, secrets: []string{"wrong-pw-42"}, wantIs: transport.ErrAuthenticationRequired},
		{name: "wrong password in the url", url: basic.URL("alice:wrong-pw-42"),
			secrets: []string{"wrong-pw-42"}, wantIs: transport.ErrAuthenticationRequired},
		{name: "no credentials", url: basic.URL(""), wantIs: transport.ErrAuthenticationRequired},
		{name: "wrong token", url: bearer.URL(""), secret: map[string][]byte{
			"bearerToken": []byte("wrong-token-42"), "ca.crt": bearer.CAPEM(),
		}, secrets: []string{"wrong-token-42"}, wantIs: transport.ErrAuthenticationRequired},
		{name: "https without the ca", url: bearer.URL(""), secret: map[string][]byte{
			"bearerToken": []byte("right-token"),
		}, secrets: []string{"right-token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.url, t.TempDir(), WithAuth(tt.secret), WithTimeout(10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Checkout(t.Context(), Ref{Branch: "main"})
			if err == nil {
				t.Fatal("checkout succeeded, want an error")
			}
			t.Logf("error: %v", err)
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error = %v, want one that wraps %v", err, tt.wantIs)
			}
			for _, s := range tt.secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error leaks a credential: %v", err)
				}
			}
			if _, ok := c.LastGood(); ok {
				t.Error("LastGood reports a checkout after a failure")
			}
		})
	}
}

func TestCheckoutRefs(t *testing.T) {
	u := newUpstream(t)
	c1 := u.commit(t, "one\n")
	u.git(t, "tag", "-a", "v1", "-m", "release one")
	c2 := u.commit(t, "two\n")
	u.git(t, "tag", "v2")
	u.git(t, "checkout", "-q", "-b", "feature", c1)
	c3 := u.commit(t, "feature\n")
	u.git(t, "push", "-q", "origin", "main", "feature", "--tags")
	g := gittest.StartHTTP(t, gittest.Handler(t, u.root, nil), false)
	c, err := New(g.URL(""), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		ref     Ref
		wantRev string
		wantJob string
		wantErr error
	}{
		{name: "branch", ref: Ref{Branch: "main"}, wantRev: "main@sha1:" + c2, wantJob: "two\n"},
		{name: "empty ref is main", ref: Ref{}, wantRev: "main@sha1:" + c2, wantJob: "two\n"},
		{name: "other branch", ref: Ref{Branch: "feature"}, wantRev: "feature@sha1:" + c3, wantJob: "feature\n"},
		{name: "annotated tag", ref: Ref{Tag: "v1"}, wantRev: "v1@sha1:" + c1, wantJob: "one\n"},
		{name: "lightweight tag", ref: Ref{Tag: "v2"}, wantRev: "v2@sha1:" + c2, wantJob: "two\n"},
		{name: "tag wins over branch", ref: Ref{Branch: "feature", Tag: "v1"}, wantRev: "v1@sha1:" + c1, wantJob: "one\n"},
		{name: "commit", ref: Ref{Commit: c3}, wantRev: "sha1:" + c3, wantJob: "feature\n"},
		{name: "commit on branch", ref: Ref{Branch: "main", Commit: c1}, wantRev: "main@sha1:" + c1, wantJob: "one\n"},
		{name: "commit at branch head", ref: Ref{Branch: "main", Commit: strings.ToUpper(c2)}, wantRev: "main@sha1:" + c2, wantJob: "two\n"},
		{name: "commit not on branch", ref: Ref{Branch: "main", Commit: c3}, wantErr: ErrCommitNotReachable},
		{name: "missing branch", ref: Ref{Branch: "nope"}, wantErr: ErrReferenceNotFound},
		{name: "missing tag", ref: Ref{Tag: "v9"}, wantErr: ErrReferenceNotFound},
		{name: "unknown commit", ref: Ref{Commit: strings.Repeat("ab", 20)}, wantErr: ErrReferenceNotFound},
		{name: "short commit", ref: Ref{Commit: c1[:7]}, wantErr: ErrReferenceNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Checkout(t.Context(), tt.ref)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Revision.String() != tt.wantRev {
				t.Errorf("revision = %s, want %s", got.Revision, tt.wantRev)
			}
			if diff := cmp.Diff(tt.wantJob, readJob(t, got)); diff != "" {
				t.Errorf("job.yaml (-want +got):\n%s", diff)
			}
			entries, err := os.ReadDir(c.checkoutsDir())
			if err != nil || len(entries) != 1 {
				t.Errorf("checkouts = %v (%v), want only the current one", entries, err)
			}
		})
	}
}
