package gitsource

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sparkcd/sparkcd/internal/gittest"
)

// countingWriter counts the bytes a handler writes.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w countingWriter) Write(b []byte) (int, error) {
	w.n.Add(int64(len(b)))
	return w.ResponseWriter.Write(b)
}

// countPacks wraps h and counts the bytes of every upload-pack response,
// which is where the pack data goes.
func countPacks(h http.Handler, n *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
			w = countingWriter{ResponseWriter: w, n: n}
		}
		h.ServeHTTP(w, r)
	})
}

// followedRemote is one source with history worth fetching: an upstream
// with a 1 MiB incompressible file, served over HTTP with basic auth and
// counted, and a client on its own cache.
type followedRemote struct {
	u      *upstream
	g      *gittest.HTTPServer
	served *atomic.Int64 // bytes of pack data served
	cache  string
	auth   Option
	c      *Client
	base   string // the commit the clone starts from
}

// newFollowedRemote pushes two commits upstream, the second adding the big
// file, and serves them; the client has not cloned yet.
func newFollowedRemote(t *testing.T) *followedRemote {
	t.Helper()
	r := &followedRemote{u: newUpstream(t), served: &atomic.Int64{}, cache: t.TempDir()}
	r.u.commit(t, "one\n")
	big := make([]byte, 1<<20) // incompressible, so a re-clone would show
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.u.work, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	r.base = r.u.commit(t, "two\n")
	r.u.git(t, "push", "-q", "origin", "main")
	r.g = gittest.StartHTTP(t, countPacks(gittest.Handler(t, r.u.root, gittest.BasicAuth("bob", "pw-secret")), r.served), false)
	r.auth = WithAuth(map[string][]byte{"username": []byte("bob"), "password": []byte("pw-secret")})
	var err error
	if r.c, err = New(r.g.URL(""), r.cache, r.auth, WithTimeout(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	return r
}

// check checks out main and wants the commit wantHash with job.yaml
// holding wantJob.
func (r *followedRemote) check(t *testing.T, wantHash, wantJob string) Snapshot {
	t.Helper()
	got, err := r.c.Checkout(t.Context(), Ref{Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "main@sha1:" + wantHash; got.Revision.String() != want {
		t.Errorf("revision = %s, want %s", got.Revision, want)
	}
	if job := readJob(t, got); job != wantJob {
		t.Errorf("job.yaml = %q, want %q", job, wantJob)
	}
	return got
}

// TestCheckoutFollowsTheRemote walks one source through its life: clone,
// incremental fetches, a force push, an outage and the recovery, and a
// restart of sparkcd on the same cache.
func TestCheckoutFollowsTheRemote(t *testing.T) {
	r := newFollowedRemote(t)
	t.Run("clone", func(t *testing.T) {
		r.check(t, r.base, "two\n")
		if r.served.Load() < 1<<20 {
			t.Errorf("clone transferred %d bytes, want the whole history", r.served.Load())
		}
	})
	t.Run("no change", func(t *testing.T) {
		r.check(t, r.base, "two\n")
	})
	t.Run("incremental fetch", func(t *testing.T) {
		next := r.u.commit(t, "three\n")
		r.u.git(t, "push", "-q", "origin", "main")
		r.served.Store(0)
		r.check(t, next, "three\n")
		if n := r.served.Load(); n == 0 || n > 64<<10 {
			t.Errorf("fetch transferred %d bytes, want only the new commit", n)
		}
	})
	t.Run("force push", func(t *testing.T) {
		r.u.git(t, "reset", "-q", "--hard", r.base)
		rewritten := r.u.commit(t, "rewritten\n")
		r.u.git(t, "push", "-q", "-f", "origin", "main")
		r.check(t, rewritten, "rewritten\n")
	})

	var good Snapshot
	t.Run("server down keeps the last good checkout", func(t *testing.T) {
		good, _ = r.c.LastGood()
		r.g.Stop()
		r.u.commit(t, "while down\n")
		r.u.git(t, "push", "-q", "origin", "main")
		_, err := r.c.Checkout(t.Context(), Ref{Branch: "main"})
		if err == nil {
			t.Fatal("checkout succeeded with the server stopped")
		}
		if !strings.Contains(err.Error(), "unable to fetch") || strings.Contains(err.Error(), "pw-secret") {
			t.Errorf("error = %v", err)
		}
		last, ok := r.c.LastGood()
		if !ok || last != good {
			t.Errorf("LastGood = %+v, %v; want %+v", last, ok, good)
		}
		if job := readJob(t, last); job != "rewritten\n" {
			t.Errorf("last good checkout changed: job.yaml = %q", job)
		}
	})
	t.Run("server back recovers", func(t *testing.T) {
		r.g.Start()
		head := r.u.git(t, "rev-parse", "HEAD")
		got := r.check(t, head, "while down\n")
		if _, err := os.Stat(good.Dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("old checkout %s still there: %v", good.Dir, err)
		}
		if got.Dir == good.Dir {
			t.Error("new revision written over the old checkout's directory")
		}
	})
	t.Run("a restarted client reuses the cache", func(t *testing.T) {
		head := r.u.git(t, "rev-parse", "HEAD")
		r.g.Stop()
		defer r.g.Start()
		again, err := New(r.g.URL(""), r.cache, r.auth)
		if err != nil {
			t.Fatal(err)
		}
		got, err := again.Checkout(t.Context(), Ref{Commit: head})
		if err != nil {
			t.Fatalf("pinned commit from the cache, with the server down: %v", err)
		}
		if want := "sha1:" + head; got.Revision.String() != want {
			t.Errorf("revision = %s, want %s", got.Revision, want)
		}
	})
}

// stallingListener accepts connections and never answers on them, like a
// firewall or a wedged server; it closes them at the end of the test.
func stallingListener(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

func TestCheckoutTimeout(t *testing.T) {
	hang := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	g := gittest.StartHTTP(t, hang, false)
	_, identity := gittest.NewSSHKey(t, "")
	stall := stallingListener(t)
	sshHost, _ := gittest.NewSSHKey(t, "")

	tests := []struct {
		name string
		url  string
		opts []Option
	}{
		{name: "http server that never answers", url: g.URL("")},
		{name: "ssh server that never shakes hands", url: "ssh://git@" + stall + "/jobs.git", opts: []Option{
			WithAuth(map[string][]byte{"identity": identity, "known_hosts": gittest.KnownHostsLine(stall, sshHost.PublicKey())}),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.url, t.TempDir(), append(tt.opts, WithTimeout(300*time.Millisecond))...)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 2 { // the second call finds the first still stuck
				start := time.Now()
				_, err = c.Checkout(t.Context(), Ref{})
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("call %d: error = %v, want a deadline", i, err)
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("call %d took %s with a 300ms timeout", i, d)
				}
			}
		})
	}
}
