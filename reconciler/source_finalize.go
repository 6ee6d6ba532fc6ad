package reconciler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// SourceFinalizer holds a deleted JobSource until the source loop has
// deleted (spec.prune) or released (otherwise) the SparkJobs it applied,
// so that no SparkJob is left naming a source that is gone.
const SourceFinalizer = "sparkcd.io/finalizer"

// Condition reasons of a JobSource being deleted.
const (
	// ReasonPruneFailed: the SparkJobs of a deleted JobSource with
	// spec.prune could not all be deleted; the finalizer stays and the
	// deletion is retried.
	ReasonPruneFailed = "PruneFailed"
	// ReasonReleaseFailed: the SparkJobs of a deleted JobSource without
	// spec.prune could not all be released; the finalizer stays and the
	// release is retried.
	ReasonReleaseFailed = "ReleaseFailed"
)

// EventReleased is the reason of the event on each SparkJob released by
// the deletion of its JobSource, and of the event on the JobSource.
const EventReleased = "Released"

// releasedAnnotations are the annotations the source loop writes on a
// SparkJob (desiredObject, applyJob, markRejected); a released job loses
// them. The managed-by label stays: the job loop still runs the job.
var releasedAnnotations = []string{
	AnnotationSource,
	AnnotationAppliedHash,
	AnnotationSourceRejected,
	v1alpha1.AnnotationRevision,
	v1alpha1.AnnotationSourceFile,
}

// addFinalizer puts SourceFinalizer on a JobSource that lacks it. The
// patch carries the resourceVersion read, so it never drops a finalizer
// another controller added meanwhile; and the API server refuses it once
// the source is being deleted, which the next reconcile then handles.
func (r *SourceReconciler) addFinalizer(ctx context.Context, src *v1alpha1.JobSource) error {
	if controllerutil.ContainsFinalizer(src, SourceFinalizer) {
		return nil
	}
	base := src.DeepCopy()
	controllerutil.AddFinalizer(src, SourceFinalizer)
	if err := r.client.Patch(ctx, src, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("unable to add the finalizer to JobSource '%s/%s': %w", src.Namespace, src.Name, err)
	}
	return nil
}

// finalize handles a JobSource being deleted: it deletes the SparkJobs
// the source applied when spec.prune is set and the source is not
// suspended (a suspended source changes nothing, as in Flux), and
// releases them otherwise, then removes the finalizer. A failure keeps
// the finalizer, is reported in the Ready condition and retried with the
// queue's backoff — unless the source's namespace is itself being
// deleted: a namespace deletion must end, so the failure is reported in
// an event and the log, and the finalizer goes anyway. The SparkJobs of
// that namespace go with it; those left in other namespaces still carry
// the sparkcd.io/source label to find them by.
func (r *SourceReconciler) finalize(ctx context.Context, src *v1alpha1.JobSource) (ctrl.Result, error) {
	key := types.NamespacedName{Namespace: src.Namespace, Name: src.Name}
	if !controllerutil.ContainsFinalizer(src, SourceFinalizer) {
		r.forget(key)
		return ctrl.Result{}, nil
	}
	prune := src.Spec.Prune && !src.Spec.Suspend
	// Deleted and released as the source's service account, as applied.
	n, err := r.finalizeJobs(r.asSource(ctx, src), src, prune)
	if err == nil {
		// The supporting objects go after the jobs that use them.
		var objects int
		objects, err = r.finalizeSupporting(r.asSource(ctx, src), src, prune)
		if objects > 0 {
			r.recorder.Eventf(src, nil, corev1.EventTypeNormal, finalizeEvent(prune), "Finalize",
				"JobSource deleted: %s %d supporting objects", finalizeVerb(prune), objects)
		}
	}
	if err != nil {
		if !r.namespaceTerminating(ctx, src.Namespace) {
			return ctrl.Result{}, errors.Join(err, r.reportFinalizeFailure(ctx, src, prune, err))
		}
		ctrl.LoggerFrom(ctx).Error(err, "the JobSource's namespace is being deleted: removing its finalizer anyway")
		r.recorder.Eventf(src, nil, corev1.EventTypeWarning, finalizeReason(prune), "Finalize",
			"namespace '%s' is being deleted; finalizer removed anyway: %v", src.Namespace, err)
	}
	base := src.DeepCopy()
	controllerutil.RemoveFinalizer(src, SourceFinalizer)
	if err := r.client.Patch(ctx, src, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("unable to remove the finalizer of JobSource '%s': %w", key, err)
	}
	switch {
	case prune && n > 0:
		r.recorder.Eventf(src, nil, corev1.EventTypeNormal, EventPruned, "Finalize",
			"JobSource deleted: deleted %d SparkJobs, orphaning their drivers", n)
	case n > 0:
		r.recorder.Eventf(src, nil, corev1.EventTypeNormal, EventReleased, "Finalize",
			"JobSource deleted: released %d SparkJobs, which are now managed by hand", n)
	}
	r.forget(key)
	return ctrl.Result{}, nil
}

// finalizeJobs deletes or releases every SparkJob of the source, and
// counts them.
func (r *SourceReconciler) finalizeJobs(ctx context.Context, src *v1alpha1.JobSource, prune bool) (int, error) {
	jobs, err := r.sourceJobs(ctx, src)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, job := range jobs {
		if prune {
			err = r.deleteSourceJob(ctx, job)
		} else {
			err = r.releaseJob(ctx, src, client.ObjectKeyFromObject(job))
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// sourceJobs lists, from the API server, the SparkJobs that still name
// the source in AnnotationSource: those of its inventory, and those that
// carry its label in its target and inventory namespaces — a job applied
// by a reconcile whose status patch (the inventory) failed is found too.
func (r *SourceReconciler) sourceJobs(ctx context.Context, src *v1alpha1.JobSource) ([]*v1alpha1.SparkJob, error) {
	owner := src.Namespace + "/" + src.Name
	found := map[types.NamespacedName]*v1alpha1.SparkJob{}
	namespaces := slices.Clone(targetNamespaces(src))
	for _, ref := range src.Status.Inventory {
		namespaces = append(namespaces, ref.Namespace)
	}
	slices.Sort(namespaces)
	for _, ns := range slices.Compact(namespaces) {
		list := &v1alpha1.SparkJobList{}
		if err := r.apiReader.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelSource: sourceLabel(src)}); err != nil {
			return nil, fmt.Errorf("unable to list the SparkJobs of JobSource '%s' in namespace '%s': %w", owner, ns, err)
		}
		for i := range list.Items {
			found[client.ObjectKeyFromObject(&list.Items[i])] = &list.Items[i]
		}
	}
	for _, ref := range src.Status.Inventory {
		key := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
		if _, ok := found[key]; ok {
			continue
		}
		live, err := r.liveJob(ctx, r.apiReader, key)
		if err != nil {
			return nil, err
		}
		if live != nil {
			found[key] = live
		}
	}
	out := make([]*v1alpha1.SparkJob, 0, len(found))
	for _, job := range found {
		if job.Annotations[AnnotationSource] == owner {
			out = append(out, job)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return client.ObjectKeyFromObject(out[i]).String() < client.ObjectKeyFromObject(out[j]).String()
	})
	return out, nil
}

// deleteSourceJob deletes a SparkJob of a deleted source without killing
// its runs. Its active drivers are orphaned first, as prune does, so no
// ownerReference to the job is left on a running driver even before the
// garbage collector acts; and the deletion's Orphan propagation makes the
// garbage collector remove the job's ownerReference from every other
// dependent — the finished drivers, which the cleanup deletes in its
// time — before it removes the job, so no dependent is left with a
// dangling owner to be collected by.
func (r *SourceReconciler) deleteSourceJob(ctx context.Context, job *v1alpha1.SparkJob) error {
	if err := r.orphanDrivers(ctx, job); err != nil {
		return err
	}
	err := r.client.Delete(ctx, job, client.Preconditions{UID: &job.UID}, client.PropagationPolicy(metav1.DeletePropagationOrphan))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("unable to delete SparkJob '%s/%s': %w", job.Namespace, job.Name, err)
	}
	return nil
}

// releaseJob removes the source's label and annotations from one of its
// SparkJobs, which keeps its spec and its runs and becomes a SparkJob
// managed by hand (or taken over by the next source that applies it), and
// says so in an event on the job. The merge patch carries the
// resourceVersion read: a job changed meanwhile (the job loop writes its
// status often) is read again, and released only if it still names the
// source.
func (r *SourceReconciler) releaseJob(ctx context.Context, src *v1alpha1.JobSource, key types.NamespacedName) error {
	owner := src.Namespace + "/" + src.Name
	var released *v1alpha1.SparkJob
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		released = nil
		live, err := r.liveJob(ctx, r.apiReader, key)
		if err != nil || live == nil || !live.DeletionTimestamp.IsZero() || live.Annotations[AnnotationSource] != owner {
			return err
		}
		patched := live.DeepCopy()
		delete(patched.Labels, v1alpha1.LabelSource)
		for _, k := range releasedAnnotations {
			delete(patched.Annotations, k)
		}
		if err := r.client.Patch(ctx, patched, client.MergeFromWithOptions(live, client.MergeFromWithOptimisticLock{})); err != nil {
			return err
		}
		released = patched
		return nil
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("unable to release SparkJob '%s': %w", key, err)
	}
	if released != nil {
		r.recorder.Eventf(released, src, corev1.EventTypeNormal, EventReleased, "Release",
			"JobSource '%s' was deleted without spec.prune: this SparkJob keeps its spec and runs, and is now managed by hand", owner)
	}
	return nil
}

// reportFinalizeFailure writes why the deletion is stuck into the
// source's Ready condition, and warns with an event when that changes.
func (r *SourceReconciler) reportFinalizeFailure(ctx context.Context, src *v1alpha1.JobSource, prune bool, err error) error {
	sc := newSourceReconciliation(src, r.opts.Clock.Now())
	what := "release"
	if prune {
		what = "delete"
	}
	msg := fmt.Sprintf("JobSource deleted: unable to %s its SparkJobs, retrying; the finalizer %s stays until done: %v", what, SourceFinalizer, err)
	msg = boundMessage(msg)
	conditions.MarkReconciling(src, meta.ProgressingWithRetryReason, "%s", msg)
	conditions.MarkFalse(src, meta.ReadyCondition, finalizeReason(prune), "%s", msg)
	if err := r.patchSourceStatus(ctx, sc); err != nil {
		return err
	}
	r.emitSource(sc)
	return nil
}

func finalizeReason(prune bool) string {
	if prune {
		return ReasonPruneFailed
	}
	return ReasonReleaseFailed
}

// namespaceTerminating reports whether the namespace is being deleted
// (or gone). A namespace sparkcd may not read counts as not terminating:
// the finalizer then waits for success, as for any other source.
func (r *SourceReconciler) namespaceTerminating(ctx context.Context, name string) bool {
	ns := &corev1.Namespace{}
	if err := r.apiReader.Get(ctx, types.NamespacedName{Name: name}, ns); err != nil {
		return apierrors.IsNotFound(err)
	}
	return !ns.DeletionTimestamp.IsZero() || ns.Status.Phase == corev1.NamespaceTerminating
}
