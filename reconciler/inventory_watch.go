package reconciler

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// inventoryChanged wakes the job loop for each SparkJob whose entry in a
// JobSource's inventory came, went or changed its digest: a job waiting
// for the record of the spec just applied starts without delay, and a job
// released from an inventory is judged as one made by hand.
func inventoryChanged(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	oldSrc, ok1 := e.ObjectOld.(*v1alpha1.JobSource)
	newSrc, ok2 := e.ObjectNew.(*v1alpha1.JobSource)
	if !ok1 || !ok2 {
		return
	}
	for _, key := range changedEntries(oldSrc.Status.Inventory, newSrc.Status.Inventory) {
		q.Add(reconcile.Request{NamespacedName: key})
	}
}

// inventoryGone wakes the jobs of a deleted JobSource's inventory.
func inventoryGone(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if src, ok := e.Object.(*v1alpha1.JobSource); ok {
		for _, key := range changedEntries(src.Status.Inventory, nil) {
			q.Add(reconcile.Request{NamespacedName: key})
		}
	}
}

// changedEntries lists the jobs whose entry differs between two
// inventories.
func changedEntries(before, after []v1alpha1.InventoryRef) []types.NamespacedName {
	old := make(map[types.NamespacedName]v1alpha1.InventoryRef, len(before))
	for _, ref := range before {
		old[types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}] = ref
	}
	var out []types.NamespacedName
	for _, ref := range after {
		key := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
		if prev, ok := old[key]; !ok || prev != ref {
			out = append(out, key)
		}
		delete(old, key)
	}
	for key := range old {
		out = append(out, key)
	}
	return out
}
