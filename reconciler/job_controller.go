package reconciler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
	kueue "sigs.k8s.io/kueue/apis/kueue/v1beta2"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// Field indexes on the pod cache.
const (
	// indexOwnerJob finds a job's driver pods by the job's UID.
	indexOwnerJob = "sparkcd.io/owner-job"
	// indexExecutorApp finds a run's executor pods by spark-app-selector.
	indexExecutorApp = "sparkcd.io/executor-app"
)

// Bounds of the per-job retry backoff of transient errors.
const (
	minRetryDelay = 50 * time.Millisecond
	maxRetryDelay = 5 * time.Minute
)

// JobReconciler is the job loop: it turns SparkJobs into runs and runs into
// SparkJob status.
type JobReconciler struct {
	client    client.Client
	apiReader client.Reader
	recorder  recorder.EventRecorder
	access    *accessReview
	verdicts  *verdicts
	digests   *digests
	// written defers a reconcile until the cache has the loop's last
	// status write (status_written.go).
	written *writtenStatus
	// executors follows the runs' executor pods (insight.go).
	executors *executors
	// starting remembers the specs of the runs being started (starting.go).
	starting *starting
	// sources reads JobSources (their inventories) from the cache.
	sources client.Reader
	opts    JobOptions
	// kueue is set when the cluster serves Kueue's Workload API: runs of
	// jobs with batchScheduler kueue are queued (queue.go).
	kueue bool
}

// NewJobReconciler adds the job loop to mgr: informers on SparkJobs, on the
// pods sparkcd manages and on the metadata of ServiceAccounts and RBAC
// objects, feeding a rate-limited work queue.
func NewJobReconciler(mgr manager.Manager, opts JobOptions) (*JobReconciler, error) {
	opts = opts.withDefaults()
	c := client.WithFieldOwner(mgr.GetClient(), FieldManager)
	r := &JobReconciler{
		client:    newIdentityClient(mgr, c, opts.Identity),
		apiReader: mgr.GetAPIReader(),
		recorder:  mgr.GetEventRecorder(FieldManager),
		access:    newAccessReview(c, !opts.SkipDriverAccessReview, opts.Clock),
		verdicts:  newVerdicts(),
		digests:   newDigests(),
		written:   newWrittenStatus(),
		executors: newExecutors(opts.Clock, !opts.DisableRunInsight),
		starting:  newStarting(),
		sources:   mgr.GetClient(),
		opts:      opts,
	}
	ctx := context.Background()
	if err := mgr.GetFieldIndexer().IndexField(ctx, &corev1.Pod{}, indexOwnerJob, ownerJobUID); err != nil {
		return nil, fmt.Errorf("unable to index pods by SparkJob: %w", err)
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &corev1.Pod{}, indexExecutorApp, executorApp); err != nil {
		return nil, fmt.Errorf("unable to index executor pods: %w", err)
	}
	if err := indexInventories(ctx, mgr); err != nil {
		return nil, err
	}
	kueueOn, err := kueueServed(mgr)
	if err != nil {
		return nil, err
	}
	r.kueue = kueueOn
	b := builder.ControllerManagedBy(mgr).
		Named("sparkjob").
		// Status writes, sparkcd's own, change none of these. A label
		// change moves no generation, and a label goes onto the pods. A
		// reconcile deferred until the cache has its status write waits
		// for that update (status_written.go).
		For(&v1alpha1.SparkJob{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, predicate.LabelChangedPredicate{},
			r.written.wakePredicate()))).
		// Executor events are recorded as they come (insight.go).
		Watches(&corev1.Pod{}, r.executors.handler(handler.EnqueueRequestsFromMapFunc(podToJob)), builder.WithPredicates(notDriverCreate())).
		WatchesRawSource(onPolicyChange(opts.Policies, r.allJobs)).
		// A new digest in an inventory wakes its job (inventory_watch.go).
		Watches(&v1alpha1.JobSource{}, handler.Funcs{UpdateFunc: inventoryChanged, DeleteFunc: inventoryGone}).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
			RateLimiter:             workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](minRetryDelay, maxRetryDelay),
		})
	// A Workload's admission wakes its job (queue.go).
	if r.kueue {
		b = b.Watches(&kueue.Workload{}, handler.EnqueueRequestsFromMapFunc(workloadToJob))
	}
	// ServiceAccount and RBAC changes wake the jobs waiting for their
	// driver's access (access_watch.go); a namespace's Pod Security
	// labels, its jobs (podsecurity_watch.go).
	err = r.access.watch(watchRelabels(b, r.jobsIn)).Complete(r)
	if err != nil {
		return nil, fmt.Errorf("unable to build the job loop: %w", err)
	}
	return r, nil
}

// Reconcile handles the gates of one SparkJob — gone, being deleted — and
// patches its status once, at the end, when it changed.
func (r *JobReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	start := time.Now()
	log := ctrl.LoggerFrom(ctx)
	job := &v1alpha1.SparkJob{}
	err := r.client.Get(ctx, req.NamespacedName, job)
	if err == nil && r.written.stale(job) {
		// An update that came between the read and the mark woke
		// nobody: read again.
		err = r.client.Get(ctx, req.NamespacedName, job)
		if err == nil && r.written.stale(job) {
			log.V(1).Info("waiting for the cache to show the last status write")
			return ctrl.Result{RequeueAfter: staleCacheRecheck}, nil
		}
	}
	if err != nil {
		if apierrors.IsNotFound(err) {
			r.written.forget(req.NamespacedName)
			forgetJob(req.Namespace, req.Name)
			r.executors.forgetJob(req.Namespace, req.Name)
			r.access.done(req.NamespacedName)
			r.verdicts.forget(req.NamespacedName)
			r.digests.forget(req.NamespacedName)
			r.starting.forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("unable to get SparkJob '%s': %w", req.NamespacedName, err)
	}
	// The garbage collector deletes the runs through their ownerReferences.
	if !job.DeletionTimestamp.IsZero() {
		r.verdicts.forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}

	rc := newReconciliation(job, r.opts.Clock.Now())
	defer func() {
		rc.writeRuns(r.opts.HistoryLimit)
		r.summarize(rc, retErr)
		var patched bool
		var err error
		if wait := r.paced(rc, retErr); wait > 0 {
			result.RequeueAfter = sooner(result.RequeueAfter, wait)
		} else {
			patched, err = r.patchStatus(ctx, rc)
		}
		if err != nil {
			// A status that did not land is written again: its failure is
			// never terminal, even beside a terminal verdict (a policy
			// violation whose status write lost a race must still show).
			retErr = notTerminal(retErr, err)
			result = ctrl.Result{}
		}
		// Every run start or end changes the status: its events go out
		// only with the status that reports them, so a retry repeats none.
		if patched {
			r.emit(rc)
		}
		if err == nil {
			r.executors.forgetEnded(rc.job)
		}
		if retErr == nil && rc.idle() {
			r.verdicts.forget(req.NamespacedName)
		}
		observeReconcile(rc, start, retErr)
		log.V(1).Info("reconciled", "duration", time.Since(start), "lastRun", lastRunName(job), "requeueAfter", result.RequeueAfter, "error", retErr)
	}()
	return r.reconcile(ctx, rc)
}

// reconcile runs the phases of one job: the drift gate (drift.go: a job a
// JobSource manages runs only the spec it applied), admit (policies,
// validation, spec hash), observe (runs from driver pods, completing
// interrupted runs), plan (which run is due), gate (whether it may start
// now), start. A job that is not admitted, or drifted, still has its
// active runs followed. A reconcile that
// failed a run as Interrupted ends there, so the status records that run
// before the run that takes its place starts.
func (r *JobReconciler) reconcile(ctx context.Context, rc *reconciliation) (ctrl.Result, error) {
	// A drifted spec is not judged: nothing is made from it, not even
	// the dependents of a run a stopped loop left half-made.
	r.checkDrift(ctx, rc)
	// The run's objects are written as the identity of the source that
	// lists the job (run_identity.go).
	ctx, identityErr := r.runIdentity(ctx, rc)
	var admitErr error
	if rc.drift == nil {
		admitErr = cmp.Or(r.admit(ctx, rc), identityErr)
	}
	if err := r.observe(ctx, rc); err != nil {
		return ctrl.Result{}, err
	}
	r.markLimits(rc)
	if rc.interrupted {
		return ctrl.Result{RequeueAfter: minRetryDelay}, nil
	}
	if rc.drift != nil {
		return ctrl.Result{RequeueAfter: rc.drift.retry}, nil
	}
	if admitErr != nil {
		return ctrl.Result{}, admitErr
	}
	plan, err := r.plan(rc)
	if rc.statusRepaired {
		rc.statusEdited(r.managedFields(ctx, rc.job))
	}
	if err != nil || plan == nil {
		return ctrl.Result{RequeueAfter: rc.requeueAfter()}, err
	}
	if err := r.gate(ctx, rc, plan); err != nil {
		return ctrl.Result{}, err
	}
	if rc.wait == nil && !rc.suspended {
		if err := r.start(ctx, rc, plan); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{RequeueAfter: rc.requeueAfter()}, nil
}

// patchStatus writes the status when it differs from the one read, and
// says whether it did. The patch carries the resourceVersion read, so a
// status computed from a stale cache is refused with a conflict and
// recomputed.
func (r *JobReconciler) patchStatus(ctx context.Context, rc *reconciliation) (bool, error) {
	if equality.Semantic.DeepEqual(rc.base.Status, rc.job.Status) {
		return false, nil
	}
	patch := client.MergeFromWithOptions(rc.base, client.MergeFromWithOptimisticLock{})
	err := r.client.Status().Patch(ctx, rc.job, patch)
	switch {
	case err == nil:
		r.written.wrote(client.ObjectKeyFromObject(rc.job), rc.base.ResourceVersion)
		return true, nil
	case apierrors.IsNotFound(err):
		return false, nil
	case apierrors.IsConflict(err):
		return false, fmt.Errorf("status of SparkJob '%s/%s' changed while it was reconciled: %w", rc.job.Namespace, rc.job.Name, err)
	default:
		return false, fmt.Errorf("unable to patch the status of SparkJob '%s/%s': %w", rc.job.Namespace, rc.job.Name, err)
	}
}

// ownerJobUID indexes a driver pod by the UID of the SparkJob that owns it.
func ownerJobUID(obj client.Object) []string {
	if obj.GetLabels()[v1alpha1.LabelSparkRole] != v1alpha1.RoleDriver {
		return nil
	}
	if ref := jobOwner(obj); ref != nil {
		return []string{string(ref.UID)}
	}
	return nil
}

// executorApp indexes an executor pod by its run's spark.app.id.
func executorApp(obj client.Object) []string {
	l := obj.GetLabels()
	if l[v1alpha1.LabelSparkRole] != v1alpha1.RoleExecutor || l[v1alpha1.LabelSparkAppSelector] == "" {
		return nil
	}
	return []string{l[v1alpha1.LabelSparkAppSelector]}
}

// jobOwner returns the ownerReference of obj to a SparkJob, if any.
func jobOwner(obj client.Object) *metav1.OwnerReference {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Kind == v1alpha1.SparkJobKind && strings.HasPrefix(ref.APIVersion, v1alpha1.GroupVersion.Group+"/") {
			return &ref
		}
	}
	return nil
}

// podToJob maps a driver pod to its SparkJob through its ownerReference,
// and an executor pod through the sparkcd.io/job label its template gave it.
func podToJob(_ context.Context, obj client.Object) []reconcile.Request {
	name := ""
	if ref := jobOwner(obj); ref != nil {
		name = ref.Name
	} else {
		name = obj.GetLabels()[v1alpha1.LabelJob]
	}
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}}}
}

// notDriverCreate drops the create events of driver pods: sparkcd created
// them and knows; a driver left by a killed loop is found when the loop
// comes back and lists every SparkJob.
func notDriverCreate() predicate.Predicate {
	return predicate.Funcs{CreateFunc: func(e event.CreateEvent) bool {
		return e.Object.GetLabels()[v1alpha1.LabelSparkRole] != v1alpha1.RoleDriver
	}}
}

// notTerminal joins a reconcile's error with the error of its status write
// so that the result is retried: a terminal error loses its mark and keeps
// its message.
func notTerminal(reconcileErr, statusErr error) error {
	if reconcileErr == nil {
		return statusErr
	}
	return fmt.Errorf("%s; %w", reconcileErr.Error(), statusErr)
}

// isTerminal reports whether err stops retries until the job changes.
func isTerminal(err error) bool {
	return errors.Is(err, reconcile.TerminalError(nil))
}

// isConflict reports whether err is an optimistic-concurrency conflict.
func isConflict(err error) bool {
	return apierrors.IsConflict(err)
}

func lastRunName(job *v1alpha1.SparkJob) string {
	if job.Status.LastRun == nil {
		return ""
	}
	return job.Status.LastRun.Name
}

var _ reconcile.Reconciler = (*JobReconciler)(nil)
