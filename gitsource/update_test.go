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

// TestCheckoutFollowsTheRemote walks one source through its life: clone,
// incremental fetches, a force push, an outage and the recovery, and a
// restart of sparkcd on the same cache.
func TestCheckoutFollowsTheRemote(t *testing.T) {
	u := newUpstream(t)
	u.commit(t, "one\n")
	big := make([]byte, 1<<20) // incompressible, so a re-clone would show
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(u.work, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	base := u.commit(t, "two\n")
	u.git(t, "push", "-q", "origin", "main")
	var served atomic.Int64
	g := gittest.StartHTTP(t, countPacks(gittest.Handler(t, u.root, gittest.BasicAuth("bob", "pw-secret")), &served), false)
	cache := t.TempDir()
	auth := WithAuth(map[string][]byte{"username": []byte("bob"), "password": []byte("pw-secret")})
	c, err := New(g.URL(""), cache, auth, WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}

	check := func(t *testing.T, wantHash, wantJob string) Snapshot {
		t.Helper()
		got, err := c.Checkout(t.Context(), Ref{Branch: "main"})
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

	t.Run("clone", func(t *testing.T) {
		check(t, base, "two\n")
		if served.Load() < 1<<20 {
			t.Errorf("clone transferred %d bytes, want the whole history", served.Load())
		}
	})
	t.Run("no change", func(t *testing.T) {
		check(t, base, "two\n")
	})
	t.Run("incremental fetch", func(t *testing.T) {
		next := u.commit(t, "three\n")
		u.git(t, "push", "-q", "origin", "main")
		served.Store(0)
		check(t, next, "three\n")
		if n := served.Load(); n == 0 || n > 64<<10 {
			t.Errorf("fetch transferred %d bytes, want only the new commit", n)
		}
	})
	t.Run("force push", func(t *testing.T) {
		u.git(t, "reset", "-q", "--hard", base)
		rewritten := u.commit(t, "rewritten\n")
		u.git(t, "push", "-q", "-f", "origin", "main")
		check(t, rewritten, "rewritten\n")
	})

	var good Snapshot
	t.Run("server down keeps the last good checkout", func(t *testing.T) {
		good, _ = c.LastGood()
		g.Stop()
		u.commit(t, "while down\n")
		u.git(t, "push", "-q", "origin", "main")
		_, err := c.Checkout(t.Context(), Ref{Branch: "main"})
		if err == nil {
			t.Fatal("checkout succeeded with the server stopped")
		}
		if !strings.Contains(err.Error(), "unable to fetch") || strings.Contains(err.Error(), "pw-secret") {
			t.Errorf("error = %v", err)
		}
		last, ok := c.LastGood()
		if !ok || last != good {
			t.Errorf("LastGood = %+v, %v; want %+v", last, ok, good)
		}
		if job := readJob(t, last); job != "rewritten\n" {
			t.Errorf("last good checkout changed: job.yaml = %q", job)
		}
	})
	t.Run("server back recovers", func(t *testing.T) {
		g.Start()
		head := u.git(t, "rev-parse", "HEAD")
		got := check(t, head, "while down\n")
		if _, err := os.Stat(good.Dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("old checkout %s still there: %v", good.Dir, err)
		}
		if got.Dir == good.Dir {
			t.Error("new revision written over the old checkout's directory")
		}
	})
	t.Run("a restarted client reuses the cache", func(t *testing.T) {
		head := u.git(t, "rev-parse", "HEAD")
		g.Stop()
		defer g.Start()
		again, err := New(g.URL(""), cache, auth)
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
