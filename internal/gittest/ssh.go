package gittest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
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

// SSHServer is an SSH server on loopback that runs the real
// git-upload-pack for the repository a client asks for, after checking
// the client's public key.
type SSHServer struct {
	root string
	git  string
	cfg  *ssh.ServerConfig
	ln   net.Listener
	wg   sync.WaitGroup
}

// StartSSH serves the repositories under root with hostKey as the host key,
// to the one client key authorized, until the test ends.
func StartSSH(t testing.TB, root string, hostKey ssh.Signer, authorized ssh.PublicKey) *SSHServer {
	t.Helper()
	s := &SSHServer{root: root, git: Binary(t)}
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

// Addr is the server's host:port.
func (s *SSHServer) Addr() string { return s.ln.Addr().String() }

// URL is the repository's ssh:// URL, as user git.
func (s *SSHServer) URL() string { return fmt.Sprintf("ssh://git@%s/%s", s.Addr(), RepoName) }

func (s *SSHServer) serve() {
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
func (s *SSHServer) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
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

func (s *SSHServer) run(ch ssh.Channel, repo string) uint32 {
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

// NewSSHKey returns a fresh ed25519 signer and its private key as PEM,
// encrypted when passphrase is not empty.
func NewSSHKey(t testing.TB, passphrase string) (ssh.Signer, []byte) {
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

// KnownHostsLine is the known_hosts line for key at addr.
func KnownHostsLine(addr string, key ssh.PublicKey) []byte {
	return []byte(knownhosts.Line([]string{knownhosts.Normalize(addr)}, key) + "\n")
}
