package reconciler

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
)

// A leader that is paused — SIGSTOP, a frozen VM, a stop-the-world pause,
// a node under memory pressure — for longer than its Lease loses the Lease
// to another replica without knowing it. client-go's elector notices only
// when its renew loop next runs and fails; until then, the goroutines that
// were paused mid-reconcile resume and send the writes they had prepared
// from a view of the cluster that is now stale, while the new leader acts
// too. client-go says so itself: its leader election "does not guarantee
// that only one client is acting as a leader (a.k.a. fencing)".
//
// The fence closes that window on the writing side. It remembers when the
// last successful renewal of the Lease started, by wrapping the Lease's
// resource lock, and refuses every request other than a GET on the
// manager's transport — creates, updates, patches, deletes, events — once
// that start is RenewDeadline or more in the past. It reads the monotonic
// clock, which keeps running while the process is stopped, so the first
// thing a resumed leader's writes meet is the fence, before the elector
// has even looked at the Lease. The Lease itself goes through a
// transport of its own, so the elector can still renew, and a successful
// renewal opens the fence again.
//
// Why RenewDeadline is safe: another replica takes the Lease only after it
// has seen the same Lease record unchanged for LeaseDuration of its own
// time, and it cannot have seen a renewal before that renewal started.
// A write the fence lets through leaves before start + RenewDeadline,
// while the earliest takeover is start + LeaseDuration: the difference
// (5 s with the defaults) covers the request's way to the API server and
// the drift between the two replicas' clock rates.
//
// Limits: a write that passed the fence and is then held up for longer
// than LeaseDuration − RenewDeadline (the process stopped between the
// check and the socket, a connection that stalls) still lands late; only
// a precondition checked by the API server could stop that, and
// Kubernetes has none that spans two objects. Each admitted write carries
// the time it was admitted (FenceAdmittedHeader), so such a write can be
// told from a breach of the fence by whoever sees it arrive. Optimistic concurrency
// (status written with the resourceVersion read) and deterministic run
// names remain the last line.

// fence admits writes while this replica's leadership is confirmed.
type fence struct {
	clock    clock.PassiveClock
	deadline time.Duration
	log      logr.Logger

	mu sync.Mutex
	// renewed is the start of the last successful renewal (or acquisition)
	// of the Lease by this replica; held is false once the replica saw
	// another holder or released the Lease.
	renewed time.Time
	held    bool
	// warned is set once a refusal was logged, until the next renewal.
	warned bool
}

func newFence(c clock.PassiveClock, deadline time.Duration, log logr.Logger) *fence {
	return &fence{clock: c, deadline: deadline, log: log}
}

// confirm records a renewal of the Lease that started at start and
// succeeded.
func (f *fence) confirm(start time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.held || start.After(f.renewed) {
		f.renewed = start
	}
	f.held, f.warned = true, false
}

// revoke closes the fence at once: another replica holds the Lease, or
// this one released it.
func (f *fence) revoke() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.held = false
}

// open reports whether writes pass now.
func (f *fence) open() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.age()
	return ok
}

// age is how long ago the last renewal started, and whether that is within
// the deadline and the Lease still held. f.mu must be held.
func (f *fence) age() (time.Duration, bool) {
	if !f.held {
		return 0, false
	}
	// Since, not Sub of two wall times: both carry the monotonic reading,
	// which a stopped process does not stop.
	age := f.clock.Since(f.renewed)
	return age, age < f.deadline
}

// admit returns nil when a write may go out now, else an error wrapping
// ErrNotLeader.
func (f *fence) admit(method, path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	age, ok := f.age()
	if ok {
		return nil
	}
	var err error
	switch {
	case f.renewed.IsZero():
		err = fmt.Errorf("refusing %s: %w: this replica has not acquired the Lease", method, ErrNotLeader)
	case !f.held:
		err = fmt.Errorf("refusing %s: %w since %s: the Lease is held by another replica or was released",
			method, ErrNotLeader, f.renewed.Format(time.RFC3339Nano))
	default:
		err = fmt.Errorf("refusing %s: %w since %s (%s ago, renew deadline %s)",
			method, ErrNotLeader, f.renewed.Format(time.RFC3339Nano), age.Round(time.Millisecond), f.deadline)
	}
	fenceRefusals.WithLabelValues(method).Inc()
	if !f.warned {
		f.warned = true
		f.log.Info("refusing writes until the Lease is renewed", "method", method, "path", path, "reason", err.Error())
	}
	return err
}

// wrap puts the fence in front of rt; rest.Config.Wrap takes it.
func (f *fence) wrap(rt http.RoundTripper) http.RoundTripper {
	return &fencedTransport{fence: f, next: rt}
}

// fencedTransport refuses every request but a GET while the fence is
// closed: watches and lists are GETs, so the caches stay current.
type fencedTransport struct {
	fence *fence
	next  http.RoundTripper
}

// FenceAdmittedHeader carries, on every write the fence let through, the
// wall-clock time it did so. A write that arrives at the API server long
// after that time was held up between the check and the socket (the limit
// above); the header makes such a write recognisable in an audit or a
// proxy, where it would otherwise look like a write of a deposed leader.
const FenceAdmittedHeader = "X-Sparkcd-Fence-Admitted"

// RoundTrip implements http.RoundTripper.
func (t *fencedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet && !unfenced(req.Context()) {
		if err := t.fence.admit(req.Method, req.URL.Path); err != nil {
			if req.Body != nil {
				_ = req.Body.Close()
			}
			return nil, err
		}
		// A RoundTripper must not modify the request it was given.
		req = req.Clone(req.Context())
		req.Header.Set(FenceAdmittedHeader, t.fence.clock.Now().UTC().Format(time.RFC3339Nano))
	}
	return t.next.RoundTrip(req)
}

// WrappedRoundTripper lets client-go find the transport underneath.
func (t *fencedTransport) WrappedRoundTripper() http.RoundTripper { return t.next }

type unfencedKey struct{}

// withoutFence marks the writes made with ctx as safe from any replica,
// leader or not: a webhook's reconcile request only sets an annotation
// that the leader reads.
func withoutFence(ctx context.Context) context.Context {
	return context.WithValue(ctx, unfencedKey{}, true)
}

func unfenced(ctx context.Context) bool {
	v, _ := ctx.Value(unfencedKey{}).(bool)
	return v
}

// fencedLock is the Lease's resource lock, telling the fence about every
// renewal: a successful Create or Update of this replica's record confirms
// leadership from the moment the request started; a record of another
// holder, read or written (a release writes an empty holder), revokes it.
//
// It also keeps a replica from releasing a Lease it no longer holds.
// client-go's release (ReleaseOnCancel, v0.37 tryRelease) reads the Lease
// and then decides from the record it observed before, not the one it
// just read: a leader resumed from a pause whose renew loop gives up
// without reading the Lease again (its renew deadline passed while it was
// stopped, between two attempts) still thinks it leads, and its release,
// sent with the resourceVersion just read, would succeed — clearing the
// new leader's record, so that a third replica could take the Lease while
// the new leader still acts.
type fencedLock struct {
	resourcelock.Interface
	fence *fence

	mu sync.Mutex
	// holder is the holder of the record last read.
	holder string
}

// Create implements resourcelock.Interface.
func (l *fencedLock) Create(ctx context.Context, rec resourcelock.LeaderElectionRecord) error {
	start := l.fence.clock.Now()
	err := l.Interface.Create(ctx, rec)
	l.wrote(start, rec, err)
	return err
}

// Update implements resourcelock.Interface. A release (an empty holder)
// of a record that names another holder is not sent: that Lease is not
// this replica's to release.
func (l *fencedLock) Update(ctx context.Context, rec resourcelock.LeaderElectionRecord) error {
	l.mu.Lock()
	holder := l.holder
	l.mu.Unlock()
	if rec.HolderIdentity == "" && holder != "" && holder != l.Identity() {
		l.fence.revoke()
		l.fence.log.Info("not releasing the Lease: another replica holds it", "holder", holder)
		return nil
	}
	start := l.fence.clock.Now()
	err := l.Interface.Update(ctx, rec)
	l.wrote(start, rec, err)
	return err
}

// Get implements resourcelock.Interface.
func (l *fencedLock) Get(ctx context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	rec, raw, err := l.Interface.Get(ctx)
	if err == nil && rec != nil {
		l.mu.Lock()
		l.holder = rec.HolderIdentity
		l.mu.Unlock()
		if rec.HolderIdentity != l.Identity() {
			l.fence.revoke()
		}
	}
	return rec, raw, err
}

func (l *fencedLock) wrote(start time.Time, rec resourcelock.LeaderElectionRecord, err error) {
	if err == nil {
		l.mu.Lock()
		l.holder = rec.HolderIdentity
		l.mu.Unlock()
	}
	switch {
	case err != nil:
		// A failed renewal confirms nothing; the last one ages out.
	case rec.HolderIdentity == l.Identity():
		l.fence.confirm(start)
	default:
		l.fence.revoke()
	}
}

// leaseEvents records the elector's events ("became leader", "stopped
// leading") on the Lease through a recorder bound once the manager
// exists, so they are fenced like every other write. An event while the
// fence is closed — "stopped leading" after the Lease was lost — is
// dropped here rather than refused by the transport, where the event
// broadcaster would log the refusal as an error and retry it. Events
// before the binding are dropped too; the elector records none before it
// starts.
type leaseEvents struct {
	fence *fence
	mu    sync.RWMutex
	rec   record.EventRecorder
}

func (e *leaseEvents) bind(rec record.EventRecorder) {
	e.mu.Lock()
	e.rec = rec
	e.mu.Unlock()
}

// Eventf implements resourcelock.EventRecorder.
func (e *leaseEvents) Eventf(obj runtime.Object, eventType, reason, message string, args ...any) {
	e.mu.RLock()
	rec := e.rec
	e.mu.RUnlock()
	if rec == nil {
		return
	}
	if !e.fence.open() {
		e.fence.log.Info("not recording the Lease's event: leadership not confirmed", "event", fmt.Sprintf(message, args...))
		return
	}
	rec.Eventf(obj, eventType, reason, message, args...)
}

// newFencedLock builds the Lease lock that controller-runtime would build
// — a Lease named id in namespace, held by "<hostname>_<uuid>", its
// requests bounded by half the renew deadline — on cfg, which must not
// carry the fence: the elector renews through it while the fence is
// closed. It is wrapped to tell f about every renewal.
func newFencedLock(cfg *rest.Config, namespace, id string, renewDeadline time.Duration, f *fence) (*fencedLock, *leaseEvents, error) {
	if namespace == "" {
		b, err := os.ReadFile(inClusterNamespaceFile)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: leader election needs a namespace for its Lease outside a cluster: %w", ErrInvalidOptions, err)
		}
		namespace = strings.TrimSpace(string(b))
	}
	if id == "" {
		return nil, nil, fmt.Errorf("%w: leader election needs the name of its Lease", ErrInvalidOptions)
	}
	host, err := os.Hostname()
	if err != nil {
		return nil, nil, fmt.Errorf("unable to name this replica for leader election: %w", err)
	}
	cfg = rest.AddUserAgent(rest.CopyConfig(cfg), "leader-election")
	// A hung request must not use up the whole renew deadline.
	cfg.Timeout = max(renewDeadline/2, time.Second)
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("unable to build the leader election client: %w", err)
	}
	coord, err := coordinationv1client.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("unable to build the leader election client: %w", err)
	}
	identity := host + "_" + string(uuid.NewUUID())
	events := &leaseEvents{fence: f}
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, namespace, id, core, coord,
		resourcelock.ResourceLockConfig{Identity: identity, EventRecorder: events})
	if err != nil {
		return nil, nil, errors.Join(ErrInvalidOptions, err)
	}
	return &fencedLock{Interface: lock, fence: f}, events, nil
}

// inClusterNamespaceFile holds the namespace of the pod sparkcd runs in.
const inClusterNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

var (
	_ http.RoundTripper          = (*fencedTransport)(nil)
	_ resourcelock.Interface     = (*fencedLock)(nil)
	_ resourcelock.EventRecorder = (*leaseEvents)(nil)
)
