package reconciler

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	kueue "sigs.k8s.io/kueue/apis/kueue/v1beta2"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

// Kueue evicts an admitted Workload — a higher-priority Workload preempts
// it, its ClusterQueue or LocalQueue is stopped, someone deactivates it —
// by setting its condition Evicted, and waits for the Workload's owner to
// stop the job and give the quota back; Kueue's job integrations
// suspend the job, then clear the Workload's reservation
// (sigs.k8s.io/kueue/pkg/controller/jobframework). A run's Workload has no
// integration: sparkcd stops the run. A driver already let go is deleted
// (its executors and dependents go with it through their ownerReferences),
// after a sparkcd.io/evicted annotation that makes the run read as Failed
// with reason Evicted (runid.FromPod), so the end is recorded, with the
// RunFailed event, whether it is seen before or after the delete; its
// Workload is deleted at once, which frees the quota. The job's
// restartPolicy then decides, as for any failure, whether a new attempt
// queues. A driver still gated is not let go: its Workload is deleted and
// made again (requeueRun), queued anew.

// evictedCondition is the Workload's Evicted condition when it is True.
func evictedCondition(wl *kueue.Workload) *metav1.Condition {
	c := apimeta.FindStatusCondition(wl.Status.Conditions, kueue.WorkloadEvicted)
	if c == nil || c.Status != metav1.ConditionTrue {
		return nil
	}
	return c
}

// evictionMessage says which Workload Kueue evicted, from which queue,
// and why.
func evictionMessage(wl *kueue.Workload, queue string, c *metav1.Condition) string {
	where := fmt.Sprintf("LocalQueue '%s'", queue)
	if a := wl.Status.Admission; a != nil && a.ClusterQueue != "" {
		where += fmt.Sprintf(" (ClusterQueue '%s')", a.ClusterQueue)
	}
	msg := fmt.Sprintf("Kueue evicted Workload '%s' of %s: %s", wl.Name, where, c.Reason)
	if c.Message != "" {
		msg += ": " + c.Message
	}
	return msg + "; the driver pod was deleted"
}

// stopEvicted is queueStep's step for a driver let go by its queue and
// still running: it stops the run when Kueue evicted its Workload.
func (r *JobReconciler) stopEvicted(ctx context.Context, pod *corev1.Pod) error {
	if _, ok := pod.Annotations[v1alpha1.AnnotationEvicted]; !ok {
		wl := &kueue.Workload{}
		err := r.client.Get(ctx, types.NamespacedName{Namespace: pod.Namespace, Name: runid.NameOf(pod)}, wl)
		if err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("unable to get the Workload of run '%s': %w", runid.NameOf(pod), err)
		}
		c := evictedCondition(wl)
		if c == nil || !isOwnedByPod(wl, pod) {
			return nil
		}
		patch := client.MergeFrom(pod.DeepCopy())
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[v1alpha1.AnnotationEvicted] = evictionMessage(wl, pod.Annotations[v1alpha1.AnnotationQueue], c)
		if err := r.client.Patch(ctx, pod, patch); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("unable to record the eviction of run '%s' on its driver pod: %w", wl.Name, err)
		}
	}
	if err := r.deleteDriver(ctx, pod); err != nil {
		return err
	}
	return r.dequeue(ctx, pod)
}

// requeueEvicted deletes the evicted Workload of a driver still gated, so
// that it is not let go and followQueue queues the run again with a new
// Workload.
func (r *JobReconciler) requeueEvicted(ctx context.Context, wl *kueue.Workload) error {
	err := r.client.Delete(ctx, wl, client.Preconditions{UID: &wl.UID})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("unable to delete the evicted Workload of queued run '%s': %w", wl.Name, err)
	}
	return nil
}
