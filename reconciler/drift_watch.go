package reconciler

import (
	"context"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

// jobToSource maps a SparkJob to the JobSources whose inventory lists it,
// and to the one its sparkcd.io/source annotation names
// "<namespace>/<name>" (a job just applied, not yet in the cache's
// inventory). The annotation alone would miss a job whose annotations
// were removed in the patch that changed its spec.
func jobToSource(sources client.Reader) handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, obj client.Object) []reconcile.Request {
		var out []reconcile.Request
		if ns, name, ok := strings.Cut(obj.GetAnnotations()[AnnotationSource], "/"); ok && ns != "" && name != "" {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}})
		}
		list := &v1alpha1.JobSourceList{}
		key := types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}
		if err := sources.List(ctx, list, client.MatchingFields{indexInventory: inventoryKey(key)}); err == nil {
			for i := range list.Items {
				req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])}
				if !slices.Contains(out, req) {
					out = append(out, req)
				}
			}
		}
		return out
	})
}

// drifted passes the update of a SparkJob that a JobSource manages (its
// inventory lists it) when the update leaves the job with a spec whose
// digest no inventory records: the source loop then restores it at once
// instead of at its next poll. The job loop starts no run meanwhile
// (drift.go). Status writes, the source loop's own applies and every
// other update pass nothing, so the source renders nothing more than its
// interval asks for.
type drifted struct{ sources client.Reader }

var _ predicate.Predicate = drifted{}

// Create implements predicate.Predicate: a restart lists every SparkJob;
// the first poll of each source sees them.
func (drifted) Create(event.CreateEvent) bool { return false }

// Delete implements predicate.Predicate: a deleted job comes back at the
// next poll, as before.
func (drifted) Delete(event.DeleteEvent) bool { return false }

// Generic implements predicate.Predicate.
func (drifted) Generic(event.GenericEvent) bool { return false }

// Update implements predicate.Predicate.
func (d drifted) Update(e event.UpdateEvent) bool {
	oldJob, ok1 := e.ObjectOld.(*v1alpha1.SparkJob)
	newJob, ok2 := e.ObjectNew.(*v1alpha1.SparkJob)
	if !ok1 || !ok2 || !newJob.DeletionTimestamp.IsZero() {
		return false
	}
	if oldJob.Generation == newJob.Generation && maps.Equal(oldJob.Labels, newJob.Labels) && maps.Equal(oldJob.Annotations, newJob.Annotations) {
		return false
	}
	entries, err := listings(context.Background(), d.sources, nil, newJob)
	if err != nil || !slices.ContainsFunc(entries, func(l listing) bool { return l.ref.Digest != "" }) {
		// Not managed, or applied by a sparkcd that recorded no digest:
		// the next poll records it.
		return false
	}
	got, err := runid.AppliedSpecDigest(newJob)
	return err != nil || !reviewed(entries, got)
}
