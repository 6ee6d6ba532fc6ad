package reconciler

import (
	"context"
	"maps"
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

// jobToSource maps a SparkJob to the JobSource that applied it, named by
// its sparkcd.io/source annotation "<namespace>/<name>".
var jobToSource = handler.EnqueueRequestsFromMapFunc(func(_ context.Context, obj client.Object) []reconcile.Request {
	ns, name, ok := strings.Cut(obj.GetAnnotations()[AnnotationSource], "/")
	if !ok || ns == "" || name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}}}
})

// drifted passes the update of a SparkJob that a JobSource manages when
// the update leaves the job drifted from the spec the source applied: the
// source loop then restores it at once instead of at its next poll. The
// job loop starts no run meanwhile (drift.go). Status writes, the source
// loop's own applies and every other update pass nothing, so the source
// renders nothing more than its interval asks for.
type drifted struct{}

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
func (drifted) Update(e event.UpdateEvent) bool {
	oldJob, ok1 := e.ObjectOld.(*v1alpha1.SparkJob)
	newJob, ok2 := e.ObjectNew.(*v1alpha1.SparkJob)
	if !ok1 || !ok2 || newJob.Annotations[AnnotationSource] == "" || !newJob.DeletionTimestamp.IsZero() {
		return false
	}
	if oldJob.Generation == newJob.Generation && maps.Equal(oldJob.Labels, newJob.Labels) && maps.Equal(oldJob.Annotations, newJob.Annotations) {
		return false
	}
	want := newJob.Annotations[v1alpha1.AnnotationAppliedSpecDigest]
	if want == "" {
		// Applied by a sparkcd that recorded no digest: the next poll
		// records it.
		return false
	}
	got, err := runid.AppliedSpecDigest(newJob)
	return err != nil || got != want
}
