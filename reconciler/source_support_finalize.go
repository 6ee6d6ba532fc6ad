package reconciler

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// finalizeSupporting deletes (prune) or releases the supporting objects
// of a deleted source's inventory, after its jobs. Only the inventory is
// read: sparkcd never lists Secrets. An object that no longer carries the
// source's label is left alone. It returns how many it handled.
func (r *SourceReconciler) finalizeSupporting(ctx context.Context, src *v1alpha1.JobSource, prune bool) (int, error) {
	n := 0
	for _, ref := range src.Status.SupportingInventory {
		live, err := r.liveSupport(ctx, ref)
		if err != nil {
			return n, err
		}
		if live == nil || live.Labels[v1alpha1.LabelSource] != sourceLabel(src) || !live.DeletionTimestamp.IsZero() {
			continue
		}
		if prune {
			uid := live.UID
			err = r.client.Delete(ctx, live, client.Preconditions{UID: &uid}, client.PropagationPolicy(metav1.DeletePropagationBackground))
		} else {
			err = r.releaseObject(ctx, live)
		}
		if err != nil && !apierrors.IsNotFound(err) {
			return n, fmt.Errorf("unable to finalize %s '%s/%s': %w", refKind(ref), ref.Namespace, ref.Name, err)
		}
		n++
	}
	return n, nil
}

// releaseObject removes the source's label and annotation from a
// supporting object, which is then no one's: another source may take it.
func (r *SourceReconciler) releaseObject(ctx context.Context, live *metav1.PartialObjectMetadata) error {
	patched := live.DeepCopy()
	delete(patched.Labels, v1alpha1.LabelSource)
	delete(patched.Annotations, AnnotationSource)
	return r.client.Patch(ctx, patched, client.MergeFromWithOptions(live, client.MergeFromWithOptimisticLock{}))
}

func finalizeEvent(prune bool) string {
	if prune {
		return EventPruned
	}
	return EventReleased
}

func finalizeVerb(prune bool) string {
	if prune {
		return "deleted"
	}
	return "released"
}
