package reconciler

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	fakeclock "k8s.io/utils/clock/testing"
)

// memLock is a Lease in memory; update may fail, and takes as long as
// slow on the fake clock.
type memLock struct {
	clock  *fakeclock.FakeClock
	rec    *resourcelock.LeaderElectionRecord
	fail   bool
	slow   time.Duration
	events []string
}

func (l *memLock) Get(context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	if l.rec == nil {
		return nil, nil, errors.New("not found")
	}
	r := *l.rec
	return &r, []byte(r.HolderIdentity), nil
}

func (l *memLock) Create(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	return l.Update(ctx, r)
}

func (l *memLock) Update(_ context.Context, r resourcelock.LeaderElectionRecord) error {
	l.clock.SetTime(l.clock.Now().Add(l.slow))
	if l.fail {
		return errors.New("the API server is unreachable")
	}
	l.rec = &r
	return nil
}

func (l *memLock) RecordEvent(s string) { l.events = append(l.events, s) }
func (l *memLock) Identity() string     { return "me" }
func (l *memLock) Describe() string     { return "test/lease" }

// sink is the transport behind the fence; it counts what reaches it.
type sink struct{ got, admitted []string }

func (s *sink) RoundTrip(req *http.Request) (*http.Response, error) {
	s.got = append(s.got, req.Method)
	s.admitted = append(s.admitted, req.Header.Get(FenceAdmittedHeader))
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
}

// closeRecorder is a request body that notes it was closed.
type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

// fenceTestDeadline is the renew deadline of TestFence's fences.
const fenceTestDeadline = 3 * time.Second

// renewAsMe renews the Lease through l as the replica "me".
func renewAsMe(t *testing.T, l *fencedLock) {
	t.Helper()
	if err := l.Update(context.Background(), resourcelock.LeaderElectionRecord{HolderIdentity: "me"}); err != nil {
		t.Fatal(err)
	}
}

// fenceCase is one case of TestFence: the Lease's history, then one request.
type fenceCase struct {
	name     string
	setup    func(t *testing.T, l *fencedLock, m *memLock)
	method   string
	unfenced bool
	// want is "" for a request that passes, else a phrase of the error.
	want string
}

// fenceCases: before the Lease, within and at the renew deadline, slow and
// failed renewals, another holder and a release.
func fenceCases() []fenceCase {
	me := resourcelock.LeaderElectionRecord{HolderIdentity: "me"}
	return []fenceCase{
		{name: "a GET passes before the Lease is acquired", method: http.MethodGet},
		{name: "a POST is refused before the Lease is acquired", method: http.MethodPost,
			want: "refusing POST: leadership not confirmed: this replica has not acquired the Lease"},
		{name: "a webhook's reconcile request passes without the Lease", method: http.MethodPatch, unfenced: true},
		{name: "a PATCH passes just within the renew deadline", method: http.MethodPatch,
			setup: func(t *testing.T, l *fencedLock, m *memLock) {
				renewAsMe(t, l)
				m.clock.Step(fenceTestDeadline - time.Nanosecond)
			}},
		{name: "a PATCH is refused at the renew deadline", method: http.MethodPatch,
			setup: func(t *testing.T, l *fencedLock, m *memLock) { renewAsMe(t, l); m.clock.Step(fenceTestDeadline) },
			want:  "refusing PATCH: leadership not confirmed since 2030-01-01T00:00:00Z (3s ago, renew deadline 3s)"},
		{name: "a GET passes at the renew deadline", method: http.MethodGet,
			setup: func(t *testing.T, l *fencedLock, m *memLock) { renewAsMe(t, l); m.clock.Step(fenceTestDeadline) }},
		{name: "the deadline counts from the start of a slow renewal", method: http.MethodPut,
			setup: func(t *testing.T, l *fencedLock, m *memLock) {
				m.slow = 2 * time.Second
				renewAsMe(t, l)
				m.clock.Step(time.Second)
			},
			want: "(3s ago, renew deadline 3s)"},
		{name: "a failed renewal extends nothing", method: http.MethodDelete,
			setup: func(t *testing.T, l *fencedLock, m *memLock) {
				renewAsMe(t, l)
				m.clock.Step(2 * time.Second)
				m.fail = true
				if err := l.Update(context.Background(), me); err == nil {
					t.Fatal("the failing lock did not fail")
				}
				m.clock.Step(time.Second)
			},
			want: "leadership not confirmed since 2030-01-01T00:00:00Z"},
		{name: "a renewal after the deadline opens the fence again", method: http.MethodDelete,
			setup: func(t *testing.T, l *fencedLock, m *memLock) {
				renewAsMe(t, l)
				m.clock.Step(10 * time.Second)
				renewAsMe(t, l)
			}},
		{name: "another holder read from the Lease closes the fence at once", method: http.MethodPost,
			setup: func(t *testing.T, l *fencedLock, m *memLock) {
				renewAsMe(t, l)
				m.rec = &resourcelock.LeaderElectionRecord{HolderIdentity: "other"}
				if _, _, err := l.Get(context.Background()); err != nil {
					t.Fatal(err)
				}
			},
			want: "held by another replica or was released"},
		{name: "a release closes the fence at once", method: http.MethodPost,
			setup: func(t *testing.T, l *fencedLock, m *memLock) {
				renewAsMe(t, l)
				if err := l.Update(context.Background(), resourcelock.LeaderElectionRecord{}); err != nil {
					t.Fatal(err)
				}
			},
			want: "held by another replica or was released"},
	}
}

// TestFence: the fence lets GETs through always, and every other request
// only while the start of the last successful renewal of the Lease is
// less than the renew deadline ago on the (monotonic) clock.
func TestFence(t *testing.T) {
	for _, tt := range fenceCases() {
		t.Run(tt.name, func(t *testing.T) {
			clock := fakeclock.NewFakeClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
			f := newFence(clock, fenceTestDeadline, logr.Discard())
			mem := &memLock{clock: clock}
			lock := &fencedLock{Interface: mem, fence: f}
			if tt.setup != nil {
				tt.setup(t, lock, mem)
			}
			next := &sink{}
			ctx := context.Background()
			if tt.unfenced {
				ctx = withoutFence(ctx)
			}
			body := &closeRecorder{Reader: strings.NewReader("{}")}
			req, err := http.NewRequestWithContext(ctx, tt.method, "https://127.0.0.1:6443/api/v1/namespaces/a/events", body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := f.wrap(next).RoundTrip(req)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				resp.Body.Close()
				if len(next.got) != 1 {
					t.Fatalf("%d requests reached the transport, want 1", len(next.got))
				}
				// A write says when the fence let it through; the
				// caller's request is left as it was.
				want := ""
				if tt.method != http.MethodGet && !tt.unfenced {
					want = clock.Now().UTC().Format(time.RFC3339Nano)
				}
				if next.admitted[0] != want || req.Header.Get(FenceAdmittedHeader) != "" {
					t.Errorf("%s header %q (caller's %q), want %q", FenceAdmittedHeader, next.admitted[0], req.Header.Get(FenceAdmittedHeader), want)
				}
				return
			}
			switch {
			case err == nil:
				t.Fatalf("%s passed the fence, want an error saying %q", tt.method, tt.want)
			case !errors.Is(err, ErrNotLeader):
				t.Errorf("the error does not wrap ErrNotLeader: %v", err)
			case !strings.Contains(err.Error(), tt.want):
				t.Errorf("error %q, want it to say %q", err, tt.want)
			}
			if len(next.got) > 0 {
				t.Errorf("a refused request reached the transport: %v", next.got)
			}
			if !body.closed {
				t.Error("the refused request's body was not closed")
			}
		})
	}
}

// TestFencedLockRelease: a release goes out for a Lease this replica
// holds, and not for one the record just read gives to another replica,
// which client-go's release would otherwise clear when it acts on a stale
// observation.
func TestFencedLockRelease(t *testing.T) {
	tests := []struct {
		name string
		// holder is who holds the Lease when the release reads it.
		holder   string
		released bool
	}{
		{name: "the Lease of this replica", holder: "me", released: true},
		{name: "the Lease of another replica", holder: "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := fakeclock.NewFakeClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
			mem := &memLock{clock: clock}
			lock := &fencedLock{Interface: mem, fence: newFence(clock, 3*time.Second, logr.Discard())}
			ctx := context.Background()
			if err := lock.Update(ctx, resourcelock.LeaderElectionRecord{HolderIdentity: "me"}); err != nil {
				t.Fatal(err)
			}
			mem.rec = &resourcelock.LeaderElectionRecord{HolderIdentity: tt.holder}
			// client-go's tryRelease: read, then write an empty holder.
			if _, _, err := lock.Get(ctx); err != nil {
				t.Fatal(err)
			}
			if err := lock.Update(ctx, resourcelock.LeaderElectionRecord{}); err != nil {
				t.Fatalf("release: %v", err)
			}
			if released := mem.rec.HolderIdentity == ""; released != tt.released {
				t.Errorf("released %v, want %v (holder now %q)", released, tt.released, mem.rec.HolderIdentity)
			}
			if lock.fence.open() {
				t.Error("the fence is open after a release")
			}
		})
	}
}
