package gitsource

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// gitBinary returns the path of the real git binary, failing the test when
// it is missing: these tests exist to run against real git.
func gitBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("the git binary is required for this test (apt-get install git): %v", err)
	}
	return p
}

// upstream is a bare repository served by the test servers, and a work
// clone the test commits and pushes from.
type upstream struct {
	root string // holds jobs.git
	work string
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	gitBinary(t)
	u := &upstream{root: t.TempDir(), work: t.TempDir()}
	gitRun(t, u.root, "init", "-q", "--bare", "-b", "main", "jobs.git")
	gitRun(t, u.work, "init", "-q", "-b", "main")
	gitRun(t, u.work, "remote", "add", "origin", filepath.Join(u.root, "jobs.git"))
	return u
}

// commit writes job.yaml with content, commits it and returns the hash.
func (u *upstream) commit(t *testing.T, content string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(u.work, "job.yaml"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	gitRun(t, u.work, "add", "-A")
	gitRun(t, u.work, "commit", "-q", "-m", content)
	return gitRun(t, u.work, "rev-parse", "HEAD")
}

func (u *upstream) git(t *testing.T, args ...string) string {
	t.Helper()
	return gitRun(t, u.work, args...)
}

// gitHTTPHandler serves root with the real "git http-backend" through CGI,
// after allow accepts the request's credentials.
func gitHTTPHandler(t *testing.T, root string, allow func(*http.Request) bool) http.Handler {
	backend := &cgi.Handler{
		Path: gitBinary(t),
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

func basicAuth(user, pass string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		u, p, ok := r.BasicAuth()
		return ok && u == user && p == pass
	}
}

func bearerAuth(token string) func(*http.Request) bool {
	return func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer "+token }
}

// httpGit is a git HTTP(S) server on loopback that can be stopped and
// started again on the same address.
type httpGit struct {
	t       *testing.T
	handler http.Handler
	tls     bool
	addr    string
	srv     *httptest.Server
}

func startHTTPGit(t *testing.T, h http.Handler, useTLS bool) *httpGit {
	t.Helper()
	g := &httpGit{t: t, handler: h, tls: useTLS, addr: "127.0.0.1:0"}
	g.start()
	t.Cleanup(g.stop)
	return g
}

func (g *httpGit) start() {
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

func (g *httpGit) stop() {
	if g.srv != nil {
		g.srv.Close()
		g.srv = nil
	}
}

// url returns the repository URL, with userinfo when given.
func (g *httpGit) url(userinfo string) string {
	scheme := "http"
	if g.tls {
		scheme = "https"
	}
	if userinfo != "" {
		userinfo += "@"
	}
	return fmt.Sprintf("%s://%s%s/jobs.git", scheme, userinfo, g.addr)
}

// caPEM returns the TLS server's certificate, which is self-signed.
func (g *httpGit) caPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: g.srv.Certificate().Raw})
}

// sshGit is an SSH server on loopback that runs the real git-upload-pack
// for the repository a client asks for, after checking its public key.
type sshGit struct {
	root string
	git  string
	cfg  *ssh.ServerConfig
	ln   net.Listener
	wg   sync.WaitGroup
}

func startSSHGit(t *testing.T, root string, hostKey ssh.Signer, authorized ssh.PublicKey) *sshGit {
	t.Helper()
	s := &sshGit{root: root, git: gitBinary(t)}
	s.cfg = &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if string(key.Marshal()) == string(authorized.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("unknown public key")
		},
	}
	s.cfg.AddHostKey(hostKey)
	var err error
	if s.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() { s.ln.Close(); s.wg.Wait() })
	return s
}

func (s *sshGit) addr() string { return s.ln.Addr().String() }

func (s *sshGit) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer conn.Close()
			_, chans, reqs, err := ssh.NewServerConn(conn, s.cfg)
			if err != nil {
				return
			}
			go ssh.DiscardRequests(reqs)
			for nc := range chans {
				if nc.ChannelType() != "session" {
					nc.Reject(ssh.UnknownChannelType, "only sessions")
					continue
				}
				ch, chReqs, err := nc.Accept()
				if err != nil {
					return
				}
				s.session(ch, chReqs)
			}
		}()
	}
}

// session answers one "exec git-upload-pack '<path>'" request.
func (s *sshGit) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "exec" {
			req.Reply(false, nil)
			continue
		}
		var payload struct{ Command string }
		if err := ssh.Unmarshal(req.Payload, &payload); err != nil {
			req.Reply(false, nil)
			return
		}
		service, arg, _ := strings.Cut(payload.Command, " ")
		repo := path.Clean("/" + strings.Trim(arg, "'\""))
		if service != "git-upload-pack" {
			req.Reply(false, nil)
			return
		}
		req.Reply(true, nil)
		code := s.run(ch, filepath.Join(s.root, filepath.FromSlash(repo)))
		ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{code}))
		return
	}
}

func (s *sshGit) run(ch ssh.Channel, repo string) uint32 {
	cmd := exec.Command(s.git, "upload-pack", repo)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null")
	cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 1
	}
	if err := cmd.Start(); err != nil {
		return 1
	}
	// Not waited for: the client may keep the channel open after
	// upload-pack is done, and Wait closes the pipe.
	go func() { io.Copy(stdin, ch); stdin.Close() }()
	if err := cmd.Wait(); err != nil {
		return 1
	}
	return 0
}

// newSSHKey returns a fresh ed25519 signer and its private key as PEM,
// encrypted when passphrase is not empty.
func newSSHKey(t *testing.T, passphrase string) (ssh.Signer, []byte) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	return signer, pem.EncodeToMemory(block)
}

func knownHostsLine(addr string, key ssh.PublicKey) []byte {
	return []byte(knownhosts.Line([]string{knownhosts.Normalize(addr)}, key) + "\n")
}
