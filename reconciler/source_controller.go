package reconciler

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// SourceReconciler is the source loop: for each JobSource it fetches the
// repository, renders and judges its jobs, applies the admitted ones,
// prunes the ones removed from git, and reports on the JobSource.
type SourceReconciler struct {
	client    client.Client
	apiReader client.Reader
	recorder  recorder.EventRecorder
	opts      SourceOptions
	limiter   *sourceRateLimiter

	mu     sync.Mutex
	states map[types.NamespacedName]*sourceState
}

// NewSourceReconciler adds the source loop to mgr: an informer on
// JobSources (their generation and the reconcile-request annotation wake
// a source; the interval does the rest) feeding a work queue whose retries
// back off no further than each source's interval. SparkJobs are read
// from the manager's cache; the Secrets named by spec.secretRef are read
// one by one from the API server, so sparkcd needs only "get" on Secrets.
func NewSourceReconciler(mgr manager.Manager, opts SourceOptions) (*SourceReconciler, error) {
	opts = opts.withDefaults()
	if opts.CacheDir == "" {
		return nil, fmt.Errorf("%w: the source loop needs a cache directory", ErrInvalidOptions)
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("unable to create the cache directory '%s': %w", opts.CacheDir, err)
	}
	r := &SourceReconciler{
		client:    newIdentityClient(mgr, client.WithFieldOwner(mgr.GetClient(), FieldManager), opts.Identity),
		apiReader: mgr.GetAPIReader(),
		recorder:  mgr.GetEventRecorder(FieldManager),
		opts:      opts,
		limiter:   newSourceRateLimiter(),
		states:    map[types.NamespacedName]*sourceState{},
	}
	if err := indexInventories(context.Background(), mgr); err != nil {
		return nil, err
	}
	b := builder.ControllerManagedBy(mgr).
		Named("jobsource").
		For(&v1alpha1.JobSource{}, builder.WithPredicates(shardPredicate(opts.WatchSelector), predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}, reconcileRequested{}))).
		WatchesRawSource(onPolicyChange(opts.Policies, r.allSources)).
		// A SparkJob patched away from git is restored at once (drift_watch.go).
		Watches(&v1alpha1.SparkJob{}, jobToSource(mgr.GetClient()), builder.WithPredicates(drifted{sources: mgr.GetClient()})).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
			RateLimiter:             r.limiter,
		})
	// A namespace's Pod Security labels judge the jobs of the sources
	// that target it (podsecurity_watch.go).
	err := watchRelabels(b, r.sourcesTargeting).Complete(r)
	if err != nil {
		return nil, fmt.Errorf("unable to build the source loop: %w", err)
	}
	return r, nil
}

// Reconcile handles the gates of one JobSource — gone, being deleted
// (finalize), suspended — puts the finalizer on it, and patches its status
// once, at the end, when it changed.
func (r *SourceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	start := time.Now()
	log := ctrl.LoggerFrom(ctx)
	src := &v1alpha1.JobSource{}
	if err := r.client.Get(ctx, req.NamespacedName, src); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("unable to get JobSource '%s': %w", req.NamespacedName, err)
	}
	// Another shard's source (shard.go): it may have been queued before it
	// moved, or by one of this shard's jobs.
	if !selected(r.opts.WatchSelector, src) {
		r.forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	// Deletion: see source_finalize.go.
	if !src.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, src)
	}
	if err := r.addFinalizer(ctx, src); err != nil {
		return ctrl.Result{}, err
	}
	sc := newSourceReconciliation(src, r.opts.Clock.Now())
	r.limiter.setInterval(req, r.interval(src))
	defer func() {
		r.summarize(sc, retErr)
		if err := r.patchSourceStatus(ctx, sc); err != nil {
			// The error's backoff replaces the interval: controller-runtime
			// ignores a RequeueAfter returned with an error, and warns.
			retErr = errors.Join(retErr, err)
			result = ctrl.Result{}
		}
		r.emitSource(sc)
		observeSource(sc, start, retErr)
		log.V(1).Info("reconciled source", "duration", time.Since(start), "revision", sc.revision,
			"applied", len(sc.applied), "pruned", len(sc.pruned), "requeueAfter", result.RequeueAfter, "error", retErr)
	}()
	if src.Spec.Suspend {
		sc.suspended = true
		return ctrl.Result{}, nil
	}
	if err := r.reconcile(ctx, sc); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: r.jittered(src)}, nil
}

// reconcile runs the phases of one source: fetch, render (build, decode,
// judge), apply, prune. A fetch or API error is transient and retried; a
// build of the whole path that fails stalls the source until the next
// revision and changes nothing in the cluster.
func (r *SourceReconciler) reconcile(ctx context.Context, sc *sourceReconciliation) error {
	st := r.state(sc.src)
	st.mu.Lock()
	defer st.mu.Unlock()
	snap, err := r.fetch(ctx, sc, st)
	if err != nil || sc.verifyFailed != "" {
		return err
	}
	sc.revision = snap.Revision.String()
	sc.src.Status.LastAttemptedRevision = sc.revision
	desired, err := r.render(ctx, sc, st, snap.Dir)
	if err != nil || sc.buildFailed != "" {
		return err
	}
	// Per-source identity (source_identity.go): what follows writes as
	// the source's service account, and only in the allowed namespaces.
	own := ctx
	ctx, desired = r.asSource(ctx, sc.src), r.refuseCrossNamespace(sc, desired)
	// Supporting objects go first, so the jobs find what they mount, and
	// are pruned last (source_support.go).
	if err := r.applySupporting(ctx, sc, desired); err != nil {
		return err
	}
	// The digests are recorded before the jobs are applied (inventory.go).
	if err := r.recordDigests(own, sc, desired); err != nil {
		return err
	}
	if err := r.apply(ctx, sc, st, desired); err != nil {
		return err
	}
	if err := r.prune(ctx, sc, desired); err != nil {
		return err
	}
	if err := r.pruneSupporting(ctx, sc, desired); err != nil {
		return err
	}
	// After the prune, which may have removed what a job reads.
	if err := r.checkReferences(ctx, sc, desired); err != nil {
		return err
	}
	sc.src.Status.LastAppliedRevision = sc.revision
	return nil
}

// patchSourceStatus writes the status when it differs from the one read.
func (r *SourceReconciler) patchSourceStatus(ctx context.Context, sc *sourceReconciliation) error {
	if equality.Semantic.DeepEqual(sc.base.Status, sc.src.Status) {
		return nil
	}
	err := r.client.Status().Patch(ctx, sc.src, client.MergeFrom(sc.base))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("unable to patch the status of JobSource '%s/%s': %w", sc.src.Namespace, sc.src.Name, err)
	}
	return nil
}

// interval is the source's fetch interval.
func (r *SourceReconciler) interval(src *v1alpha1.JobSource) time.Duration {
	if d := src.Spec.Interval.Duration; d > 0 {
		return d
	}
	return r.opts.DefaultInterval
}

// jittered is the interval plus up to Jitter of it, so sources created
// together do not fetch together forever.
func (r *SourceReconciler) jittered(src *v1alpha1.JobSource) time.Duration {
	d := r.interval(src)
	if r.opts.Jitter > 0 {
		d += time.Duration(rand.Float64() * r.opts.Jitter * float64(d))
	}
	return d
}

// state returns the long-lived state of a source, creating it; a source
// recreated under the same name (a new UID) starts afresh.
func (r *SourceReconciler) state(src *v1alpha1.JobSource) *sourceState {
	key := types.NamespacedName{Namespace: src.Namespace, Name: src.Name}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.states[key]
	if st == nil || st.uid != src.UID {
		if st != nil {
			_ = os.RemoveAll(st.dir)
		}
		st = newSourceState(src.UID, filepath.Join(r.opts.CacheDir, src.Namespace, src.Name, string(src.UID)))
		r.states[key] = st
	}
	return st
}

// forget drops a deleted source's state, cache directory and metrics.
func (r *SourceReconciler) forget(key types.NamespacedName) {
	r.mu.Lock()
	delete(r.states, key)
	r.mu.Unlock()
	r.limiter.forgetInterval(key)
	_ = os.RemoveAll(filepath.Join(r.opts.CacheDir, key.Namespace, key.Name))
	forgetSource(key.Namespace, key.Name)
}

// reconcileRequested passes updates that change the
// sparkcd.io/reconcile-requested-at annotation, as a webhook or
// `sparkcd reconcile` sets it.
type reconcileRequested struct{ predicate.Funcs }

// Update implements predicate.Predicate.
func (reconcileRequested) Update(e event.UpdateEvent) bool {
	if e.ObjectOld == nil || e.ObjectNew == nil {
		return false
	}
	return e.ObjectOld.GetAnnotations()[AnnotationReconcileRequestedAt] != e.ObjectNew.GetAnnotations()[AnnotationReconcileRequestedAt]
}

// sourceRateLimiter backs off the retries of a failing source
// exponentially, but never beyond the source's interval: a source polled
// every 30s is retried at least every 30s.
type sourceRateLimiter struct {
	workqueue.TypedRateLimiter[reconcile.Request]
	mu        sync.Mutex
	intervals map[types.NamespacedName]time.Duration
}

func newSourceRateLimiter() *sourceRateLimiter {
	return &sourceRateLimiter{
		TypedRateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](minRetryDelay, maxRetryDelay),
		intervals:        map[types.NamespacedName]time.Duration{},
	}
}

// When implements workqueue.TypedRateLimiter.
func (l *sourceRateLimiter) When(req reconcile.Request) time.Duration {
	d := l.TypedRateLimiter.When(req)
	l.mu.Lock()
	defer l.mu.Unlock()
	if i, ok := l.intervals[req.NamespacedName]; ok && i < d {
		return i
	}
	return d
}

func (l *sourceRateLimiter) setInterval(req reconcile.Request, d time.Duration) {
	l.mu.Lock()
	l.intervals[req.NamespacedName] = d
	l.mu.Unlock()
}

func (l *sourceRateLimiter) forgetInterval(key types.NamespacedName) {
	l.mu.Lock()
	delete(l.intervals, key)
	l.mu.Unlock()
}

var (
	_ reconcile.Reconciler                          = (*SourceReconciler)(nil)
	_ workqueue.TypedRateLimiter[reconcile.Request] = (*sourceRateLimiter)(nil)
)
