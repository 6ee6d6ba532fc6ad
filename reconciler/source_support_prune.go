package reconciler

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// pruneSupporting deletes the supporting objects of the inventory that git
// no longer has (or no longer admits), after the jobs that used them, when
// spec.prune is set, and writes the new inventory. The guard of the jobs'
// prune holds here too: a path that did not fully build, that renders
// nothing, or that would prune more than maxPrunePercent of the objects
// prunes none until a later revision or the sparkcd.io/allow-prune
// annotation. An object that lost this source's label is not deleted.
// Without spec.prune, the objects that left git are released.
func (r *SourceReconciler) pruneSupporting(ctx context.Context, sc *sourceReconciliation, rs *renderedSource) error {
	src := sc.src
	var gone []v1alpha1.SupportingRef
	for _, ref := range sc.base.Status.SupportingInventory {
		if !sc.keptObjects[ref] {
			gone = append(gone, ref)
		}
	}
	src.Status.SupportingInventory = supportingInventoryOf(sc.keptObjects)
	if len(gone) == 0 {
		return nil
	}
	if !src.Spec.Prune {
		return r.releaseGone(ctx, sc, gone)
	}
	total := len(sc.base.Status.SupportingInventory)
	empty := len(rs.objects)+len(rs.jobs)+len(rs.rejected) == 0
	if why := r.pruneGuardOf(sc, rs, len(gone), total, empty, "supporting objects"); why != "" {
		if sc.pruneBlocked == "" {
			sc.pruneBlocked = why
		} else if !strings.Contains(sc.pruneBlocked, why) {
			sc.pruneBlocked += "; " + why
		}
		for _, ref := range gone {
			sc.keepObject(ref)
		}
		src.Status.SupportingInventory = supportingInventoryOf(sc.keptObjects)
		return nil
	}
	for _, ref := range gone {
		if err := r.pruneObject(ctx, sc, ref); err != nil {
			sc.keepObject(ref)
			src.Status.SupportingInventory = supportingInventoryOf(sc.keptObjects)
			if sc.identityRefused(types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, "", err) {
				continue
			}
			return err
		}
	}
	return nil
}

// releaseGone releases, without spec.prune, the supporting objects that
// left git: they stay in the cluster but no longer carry the source's
// label, so another source may take them and a later deletion of this
// source does not miss them (sparkcd never lists Secrets to find them).
// One that cannot be released stays in the inventory and is retried.
func (r *SourceReconciler) releaseGone(ctx context.Context, sc *sourceReconciliation, gone []v1alpha1.SupportingRef) error {
	for _, ref := range gone {
		live, err := r.liveSupport(ctx, ref)
		if err == nil && live != nil && live.Labels[v1alpha1.LabelSource] == sourceLabel(sc.src) && live.DeletionTimestamp.IsZero() {
			err = r.releaseObject(ctx, live)
		}
		if err != nil && !apierrors.IsNotFound(err) {
			sc.keepObject(ref)
			sc.src.Status.SupportingInventory = supportingInventoryOf(sc.keptObjects)
			return fmt.Errorf("unable to release %s '%s/%s': %w", refKind(ref), ref.Namespace, ref.Name, err)
		}
	}
	return nil
}

// pruneObject deletes one supporting object this source applied.
func (r *SourceReconciler) pruneObject(ctx context.Context, sc *sourceReconciliation, ref v1alpha1.SupportingRef) error {
	live, err := r.liveSupport(ctx, ref)
	if err != nil || live == nil {
		// A refusal is retried like any API error: the object stays in
		// the inventory until it can be checked and deleted.
		return err
	}
	if live.Labels[v1alpha1.LabelSource] != sourceLabel(sc.src) {
		// Taken over by another source or by hand since: not ours.
		return nil
	}
	uid := live.UID
	err = r.client.Delete(ctx, live, client.Preconditions{UID: &uid}, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("unable to prune %s '%s/%s': %w", refKind(ref), ref.Namespace, ref.Name, err)
	}
	sc.prunedObjects++
	return nil
}
