package reconciler

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

// observe folds the job's driver pods into its runs: the phase of every
// run still active, the executors it has, the runs that ended or whose
// driver went away; and it completes the runs a stopped loop left
// half-made (see complete).
func (r *JobReconciler) observe(ctx context.Context, rc *reconciliation) error {
	rc.readRecorded()
	pods := &corev1.PodList{}
	if err := r.client.List(ctx, pods, client.InNamespace(rc.job.Namespace), client.MatchingFields{indexOwnerJob: string(rc.job.UID)}); err != nil {
		return fmt.Errorf("unable to list the driver pods of SparkJob '%s/%s': %w", rc.job.Namespace, rc.job.Name, err)
	}
	newestRecorded := rc.newestRecordedStart()
	for i := range pods.Items {
		pod := &pods.Items[i]
		name := runid.NameOf(pod)
		rc.pods[name] = pod
		if prev := rc.runs[name]; prev != nil && rc.recorded[name] && runid.Finished(prev) {
			// The driver of a run recorded as Interrupted never ran; its
			// record is read back, so it may go (see interrupt).
			if prev.Reason == runid.ReasonInterrupted && runid.ExecutorActive(pod) {
				if err := r.deleteDriver(ctx, pod); err != nil {
					return err
				}
			}
			continue
		}
		if err := r.queueStep(ctx, rc, pod); err != nil {
			return err
		}
		run := runid.FromPod(pod, rc.timestamp())
		rc.markStopped(pod, run)
		if !rc.recorded[name] {
			// Completing a run needs the admitted spec; a job that is not
			// admitted leaves it for later.
			if rc.admitted == nil {
				continue
			}
			// A finished driver older than every recorded run is one the
			// bounded history let go of, not an interrupted run.
			if runid.Finished(run) && run.StartTime != nil && !run.StartTime.After(newestRecorded) {
				continue
			}
			rc.adopted[name] = true
		}
		if (rc.adopted[name] || gated(pod)) && rc.admitted != nil {
			if err := r.complete(ctx, rc, pod, run); err != nil {
				return err
			}
		}
		// The start of a run a stopped loop made, and its end when it has
		// ended already (or was just interrupted: it never started), are
		// reported with the status that first records the run: no status
		// named it yet, so no event or counter did either.
		if rc.adopted[name] {
			if run.Reason != runid.ReasonInterrupted {
				rc.startedRun(run)
			}
			if runid.Finished(run) {
				rc.ended(run)
			}
		}
		if err := r.follow(ctx, rc, run); err != nil {
			return err
		}
	}
	for name := range rc.wasActive {
		if _, ok := rc.pods[name]; ok || runid.Finished(rc.runs[name]) {
			continue
		}
		if err := r.lost(ctx, rc, name); err != nil {
			return err
		}
	}
	return nil
}

// follow records a run read from its driver pod: its executor count while
// active, its executors' timeline and reservations (insight_status.go),
// the runtime limits it broke (limits.go), and the end of a run that was
// active.
func (r *JobReconciler) follow(ctx context.Context, rc *reconciliation, run *v1alpha1.RunStatus) error {
	if runid.Finished(run) {
		if prev := rc.runs[run.Name]; prev != nil {
			run.Executors = prev.Executors
		}
		r.foldInsight(rc, run, rc.pods[run.Name])
		if rc.wasActive[run.Name] {
			rc.ended(run)
		}
	} else {
		n, err := r.countExecutors(ctx, rc.job.Namespace, run.AppID)
		if err != nil {
			return err
		}
		run.Executors = n
		r.foldInsight(rc, run, rc.pods[run.Name])
		stopped, err := r.judgeRun(ctx, rc, run)
		if err != nil {
			return err
		}
		if stopped {
			r.foldInsight(rc, run, rc.pods[run.Name])
			rc.ended(run)
		}
	}
	rc.runs[run.Name] = run
	return nil
}

// lost handles an active run whose driver is not in the cache: the cache
// may be behind, so the API decides; a driver that is really gone ended
// the run.
func (r *JobReconciler) lost(ctx context.Context, rc *reconciliation, name string) error {
	pod := &corev1.Pod{}
	key := types.NamespacedName{Namespace: rc.job.Namespace, Name: runid.DriverPodName(name)}
	err := r.apiReader.Get(ctx, key, pod)
	switch {
	case err == nil && isOwnedBy(pod, rc.job):
		if err := r.adoptMovedDriver(ctx, rc.job, pod); err != nil {
			return err
		}
		rc.pods[name] = pod
		return r.follow(ctx, rc, runid.FromPod(pod, rc.timestamp()))
	case err != nil && !apierrors.IsNotFound(err):
		return fmt.Errorf("unable to get driver pod '%s': %w", key, err)
	}
	run := rc.runs[name]
	// A run whose stop for a runtime limit was not recorded (the status
	// write failed after the driver's delete) is recorded as stopped.
	stopped, err := r.judgeRun(ctx, rc, run)
	if err != nil {
		return err
	}
	if !stopped {
		run.Phase = v1alpha1.RunFailed
		run.Reason = runid.ReasonDriverPodDeleted
		run.Message = "the driver pod was deleted before it ended"
		run.CompletionTime = rc.timestamp()
		rc.markStopped(nil, run)
	}
	if run.Insight != nil && run.StartTime != nil {
		end := run.CompletionTime.Time
		run.Insight = r.executors.insight(runKey{rc.job.Namespace, run.AppID}, rc.job.Name, run.StartTime.Time, &end, run.Insight, nil)
	}
	rc.ended(run)
	return nil
}

// countExecutors counts a run's live executor pods.
func (r *JobReconciler) countExecutors(ctx context.Context, namespace, appID string) (int32, error) {
	if appID == "" {
		return 0, nil
	}
	pods := &corev1.PodList{}
	if err := r.client.List(ctx, pods, client.InNamespace(namespace), client.MatchingFields{indexExecutorApp: appID}); err != nil {
		return 0, fmt.Errorf("unable to list the executors of '%s': %w", appID, err)
	}
	var n int32
	for i := range pods.Items {
		if runid.ExecutorActive(&pods.Items[i]) {
			n++
		}
	}
	return n, nil
}

// runIdentity is the runid.Identity a recorded run was started with.
func runIdentity(run *v1alpha1.RunStatus) runid.Identity {
	return runid.Identity{Name: run.Name, AppID: run.AppID, Revision: run.Revision, Trigger: run.Trigger, SpecHash: run.SpecHash}
}

// isOwnedBy reports whether the SparkJob job owns obj.
func isOwnedBy(obj client.Object, job *v1alpha1.SparkJob) bool {
	ref := jobOwner(obj)
	return ref != nil && ref.UID == job.UID
}
