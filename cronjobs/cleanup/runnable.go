package cleanup

import (
	"context"
	"fmt"
	"time"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/cronjobs/schedule"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// Start runs a pass at every tick of the cleanup schedule until ctx ends;
// it is how a Cleanup runs as a manager.Runnable. Passes never overlap: a
// pass that outlasts a tick makes Start skip to the next tick after it. A
// failed pass is logged and the next tick tries again.
func (c *Cleanup) Start(ctx context.Context) error {
	sched, err := schedule.Parse(c.opts.Schedule, c.opts.TimeZone)
	if err != nil {
		return err
	}
	log := c.logger(ctx).WithValues("schedule", c.opts.Schedule)
	for {
		now := c.opts.Clock.Now()
		next := sched.Next(now)
		if next.IsZero() {
			return fmt.Errorf("%w: cleanup schedule '%s' has no tick within five years", schedule.ErrNeverFires, c.opts.Schedule)
		}
		log.V(1).Info("next cleanup pass", "at", next)
		nextPass.Set(float64(next.Unix()))
		timer := c.opts.Clock.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C():
		}
		rep, err := c.RunOnce(ctx)
		if err != nil {
			log.Error(err, "cleanup pass failed", "deleted", len(rep.Deleted), "errors", rep.Errors)
		}
		if c.opts.OnPass != nil {
			c.opts.OnPass(rep, err)
		}
	}
}

// NeedLeaderElection makes only the elected leader run passes.
func (c *Cleanup) NeedLeaderElection() bool { return true }

var (
	_ manager.Runnable               = (*Cleanup)(nil)
	_ manager.LeaderElectionRunnable = (*Cleanup)(nil)
)

// NewForManager returns a Cleanup for `sparkcd serve` and adds it to
// mgr, which starts it once mgr is the leader. It reads through a client
// of its own that goes to the API server — the manager's client reads from
// a cache, which cannot page — and emits events through the manager's
// recorder, logging with its logger.
func NewForManager(mgr manager.Manager, opts Options) (*Cleanup, error) {
	c, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper()})
	if err != nil {
		return nil, fmt.Errorf("unable to build the cleanup's client: %w", err)
	}
	if opts.Recorder == nil {
		opts.Recorder = mgr.GetEventRecorder(v1alpha1.FieldManager)
	}
	if opts.Logger.GetSink() == nil {
		opts.Logger = mgr.GetLogger().WithName("cleanup")
	}
	cl, err := New(c, opts)
	if err != nil {
		return nil, err
	}
	if err := mgr.Add(cl); err != nil {
		return nil, fmt.Errorf("unable to add the cleanup to the manager: %w", err)
	}
	return cl, nil
}

// NewForConfig returns a Cleanup for `sparkcd cleanup --once`: a
// client of its own on cfg, and, unless opts has a Recorder or is a dry
// run, an event recorder. Call the returned stop function before the
// process exits: it sends the events still queued.
func NewForConfig(cfg *rest.Config, opts Options) (*Cleanup, func(), error) {
	scheme, err := v1alpha1.NewScheme()
	if err != nil {
		return nil, nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, nil, fmt.Errorf("unable to build the cleanup's client: %w", err)
	}
	stop := func() {}
	if opts.Recorder == nil && !opts.DryRun {
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("unable to build the cleanup's event client: %w", err)
		}
		b := events.NewBroadcaster(&events.EventSinkImpl{Interface: cs.EventsV1()})
		ctx, cancel := context.WithCancel(context.Background())
		if err := b.StartRecordingToSinkWithContext(ctx); err != nil {
			cancel()
			return nil, nil, fmt.Errorf("unable to start the cleanup's event recorder: %w", err)
		}
		opts.Recorder = b.NewRecorder(scheme, v1alpha1.FieldManager)
		stop = func() {
			// The broadcaster sends asynchronously; give the queue a moment
			// before shutting it down, as a one-shot process must.
			time.Sleep(eventFlushDelay)
			b.Shutdown()
			cancel()
		}
	}
	cl, err := New(c, opts)
	if err != nil {
		stop()
		return nil, nil, err
	}
	return cl, stop, nil
}

// eventFlushDelay is how long a one-shot cleanup waits for its events.
const eventFlushDelay = 500 * time.Millisecond
