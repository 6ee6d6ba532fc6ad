package reconciler

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

// stopMessage is the message of a run `sparkcd stop` ended.
const stopMessage = "stopped by `sparkcd stop`: its driver pod was deleted"

// StopRun stops a run of a SparkJob, as `sparkcd stop` does: it names the
// run in the job's sparkcd.io/stop-runs annotation (keeping only the names
// of runs still active), then deletes the run's driver pod with background
// propagation, so that the garbage collector removes the objects the driver
// owns and Spark's executors, which the driver owns too. The job loop then
// records the run as Failed with reason Stopped, which no restart policy
// retries. A driver already gone is no error.
func StopRun(ctx context.Context, c client.Client, key types.NamespacedName, run string) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		job := &v1alpha1.SparkJob{}
		if err := c.Get(ctx, key, job); err != nil {
			return err
		}
		orig := job.DeepCopy()
		names := stopRequests(job)
		names = slices.DeleteFunc(names, func(n string) bool { return !slices.Contains(job.Status.ActiveRuns, n) })
		if !slices.Contains(names, run) {
			names = append(names, run)
		}
		if job.Annotations == nil {
			job.Annotations = map[string]string{}
		}
		job.Annotations[v1alpha1.AnnotationStopRuns] = strings.Join(names, ",")
		return c.Patch(ctx, job, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}), client.FieldOwner(FieldManager))
	})
	if err != nil {
		return fmt.Errorf("unable to mark run '%s' of SparkJob '%s' as stopped: %w", run, key, err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: runid.DriverPodName(run)}}
	if err := c.Delete(ctx, pod, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("unable to delete driver pod '%s/%s': %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// stopRequests are the runs the job's sparkcd.io/stop-runs annotation names.
func stopRequests(job *v1alpha1.SparkJob) []string {
	v := job.Annotations[v1alpha1.AnnotationStopRuns]
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// markStopped records a run `sparkcd stop` stopped as Failed with reason
// Stopped once its driver is going (pod nil: gone; or terminating),
// whatever the driver's container said on its way out: the end is the
// user's, not a failure to retry. A driver that ended by itself before the
// delete keeps its own outcome.
func (rc *reconciliation) markStopped(pod *corev1.Pod, run *v1alpha1.RunStatus) {
	if !slices.Contains(stopRequests(rc.job), run.Name) {
		return
	}
	if pod != nil && pod.DeletionTimestamp == nil {
		return
	}
	run.Phase = v1alpha1.RunFailed
	run.Reason = runid.ReasonStopped
	run.Message = stopMessage
	if run.CompletionTime == nil {
		run.CompletionTime = rc.timestamp()
	}
}
