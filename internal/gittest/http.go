package gittest

import (
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"testing"
)

// Handler serves the repositories under root with the real
// "git http-backend" through CGI, after allow accepts the request's
// credentials (nil allows every request).
func Handler(t testing.TB, root string, allow func(*http.Request) bool) http.Handler {
	backend := &cgi.Handler{
		Path: Binary(t),
		Args: []string{"http-backend"},
		Env: []string{
			"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null",
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if allow != nil && !allow(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	})
}

// BasicAuth accepts requests with these basic-auth credentials.
func BasicAuth(user, pass string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		u, p, ok := r.BasicAuth()
		return ok && u == user && p == pass
	}
}

// BearerAuth accepts requests with this bearer token.
func BearerAuth(token string) func(*http.Request) bool {
	return func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer "+token }
}

// HTTPServer is a git HTTP(S) server on loopback that can be stopped and
// started again on the same address, to simulate an outage.
type HTTPServer struct {
	t       testing.TB
	handler http.Handler
	tls     bool
	addr    string
	srv     *httptest.Server
}

// StartHTTP serves h on a loopback port, over TLS with a self-signed
// certificate when useTLS is set, until the test ends.
func StartHTTP(t testing.TB, h http.Handler, useTLS bool) *HTTPServer {
	t.Helper()
	g := &HTTPServer{t: t, handler: h, tls: useTLS, addr: "127.0.0.1:0"}
	g.Start()
	t.Cleanup(g.Stop)
	return g
}

// Start starts the server, on the address it had before if it ran.
func (g *HTTPServer) Start() {
	g.t.Helper()
	l, err := net.Listen("tcp", g.addr)
	if err != nil {
		g.t.Fatalf("listen on %s: %v", g.addr, err)
	}
	g.addr = l.Addr().String()
	g.srv = httptest.NewUnstartedServer(g.handler)
	g.srv.Listener.Close()
	g.srv.Listener = l
	if g.tls {
		g.srv.StartTLS()
	} else {
		g.srv.Start()
	}
}

// Stop stops the server and closes its connections.
func (g *HTTPServer) Stop() {
	if g.srv != nil {
		g.srv.Close()
		g.srv = nil
	}
}

// Addr is the server's host:port.
func (g *HTTPServer) Addr() string { return g.addr }

// URL returns the repository's URL, with userinfo ("user:pass") when given.
func (g *HTTPServer) URL(userinfo string) string {
	scheme := "http"
	if g.tls {
		scheme = "https"
	}
	if userinfo != "" {
		userinfo += "@"
	}
	return fmt.Sprintf("%s://%s%s/%s", scheme, userinfo, g.addr, RepoName)
}

// CAPEM returns the TLS server's certificate, which is self-signed, as
// PEM: what a Secret's ca.crt holds to trust it.
func (g *HTTPServer) CAPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: g.srv.Certificate().Raw})
}
