package reconciler

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// defaultMaxPrunePercent is spec.maxPrunePercent when it is not set.
const defaultMaxPrunePercent = 50

// prune deletes the SparkJobs of the inventory that git no longer has,
// when spec.prune is set, and writes the new inventory. A revision that
// would prune more than maxPrunePercent of the inventory, or leave it
// empty, or whose path did not fully build, prunes nothing until a later
// revision or the sparkcd.io/allow-prune annotation naming this revision.
// A running driver is never killed: it is orphaned before its SparkJob is
// deleted, and the cleanup removes it once it ends.
func (r *SourceReconciler) prune(ctx context.Context, sc *sourceReconciliation, rs *renderedSource) error {
	src := sc.src
	var gone []types.NamespacedName
	for _, ref := range sc.read {
		key := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
		if !sc.kept[key] {
			gone = append(gone, key)
		}
	}
	src.Status.Inventory = inventoryOf(sc)
	if len(gone) == 0 || !src.Spec.Prune {
		return nil
	}
	if why := r.pruneGuard(sc, rs, len(gone)); why != "" {
		sc.pruneBlocked = why
		// Keep them in the inventory, so a later revision still knows them.
		for _, key := range gone {
			sc.kept[key] = true
		}
		src.Status.Inventory = inventoryOf(sc)
		return nil
	}
	for _, key := range gone {
		if err := r.pruneJob(ctx, sc, key); err != nil {
			// Retried next time: the job stays in the inventory.
			sc.kept[key] = true
			src.Status.Inventory = inventoryOf(sc)
			if sc.identityRefused(key, "", err) {
				continue
			}
			return err
		}
	}
	return nil
}

// pruneGuard says why this revision may not prune SparkJobs, or "".
func (r *SourceReconciler) pruneGuard(sc *sourceReconciliation, rs *renderedSource, gone int) string {
	return r.pruneGuardOf(sc, rs, gone, len(sc.read), len(rs.jobs)+len(rs.rejected) == 0, "SparkJobs")
}

// pruneGuardOf says why this revision may not prune gone of the total
// objects (what) of the inventory, or "": the same guard for SparkJobs
// and supporting objects.
func (r *SourceReconciler) pruneGuardOf(sc *sourceReconciliation, rs *renderedSource, gone, total int, empty bool, what string) string {
	src := sc.src
	if allowed := src.Annotations[AnnotationAllowPrune]; allowed != "" &&
		(allowed == sc.revision || strings.HasSuffix(sc.revision, ":"+allowed)) {
		return ""
	}
	limit := int32(defaultMaxPrunePercent)
	if src.Spec.MaxPrunePercent != nil {
		limit = *src.Spec.MaxPrunePercent
	}
	override := fmt.Sprintf("; to prune anyway, annotate the JobSource %s=%s", AnnotationAllowPrune, sc.revision)
	switch {
	case rs.holdPrune != "":
		return fmt.Sprintf("revision %s would prune %d of %d %s, but %s", sc.revision, gone, total, what, rs.holdPrune) + override
	case empty:
		return fmt.Sprintf("revision %s renders no job and would prune all %d %s", sc.revision, total, what) + override
	case int64(gone)*100 > int64(limit)*int64(total):
		return fmt.Sprintf("revision %s would prune %d of %d %s (%d%%), more than maxPrunePercent %d%%",
			sc.revision, gone, total, what, gone*100/total, limit) + override
	}
	return ""
}

// pruneJob deletes one SparkJob this source applied, after orphaning its
// active drivers: the driver's ownerReference to the SparkJob is what the
// garbage collector would follow.
func (r *SourceReconciler) pruneJob(ctx context.Context, sc *sourceReconciliation, key types.NamespacedName) error {
	live, err := r.liveJob(ctx, r.apiReader, key)
	if err != nil || live == nil {
		return err
	}
	if live.Annotations[AnnotationSource] != sc.src.Namespace+"/"+sc.src.Name {
		// Taken over by another source or by hand since: not ours to delete.
		return nil
	}
	if err := r.orphanDrivers(ctx, live); err != nil {
		return err
	}
	err = r.client.Delete(ctx, live, client.Preconditions{UID: &live.UID}, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("unable to prune SparkJob '%s': %w", key, err)
	}
	sc.pruned = append(sc.pruned, key)
	return nil
}

// orphanDrivers removes the ownerReference to job from its drivers that
// have not ended. The patch carries the resourceVersion read, so a driver
// changed meanwhile is read again on the retry.
func (r *SourceReconciler) orphanDrivers(ctx context.Context, job *v1alpha1.SparkJob) error {
	pods := &corev1.PodList{}
	if err := r.apiReader.List(ctx, pods, client.InNamespace(job.Namespace), client.MatchingLabels{
		v1alpha1.LabelJob: job.Name, v1alpha1.LabelSparkRole: v1alpha1.RoleDriver,
	}); err != nil {
		return fmt.Errorf("unable to list the drivers of SparkJob '%s/%s': %w", job.Namespace, job.Name, err)
	}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if !isOwnedBy(pod, job) || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		patched := pod.DeepCopy()
		patched.OwnerReferences = nil
		for _, ref := range pod.OwnerReferences {
			if ref.UID != job.UID {
				patched.OwnerReferences = append(patched.OwnerReferences, ref)
			}
		}
		patch := client.MergeFromWithOptions(pod, client.MergeFromWithOptimisticLock{})
		if err := r.client.Patch(ctx, patched, patch); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("unable to orphan driver pod '%s/%s': %w", pod.Namespace, pod.Name, err)
		}
	}
	return nil
}
