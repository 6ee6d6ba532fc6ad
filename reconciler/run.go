package reconciler

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/materialize"
	"github.com/sparkcd/sparkcd/runid"
)

// start starts a due run: it ends the runs concurrencyPolicy Replace
// replaces, creates the driver pod gated — owned by the SparkJob, so
// deleting the job deletes its runs — then the ConfigMap, Service and
// Ingress the driver pod owns, and then releases the driver to the
// scheduler. The run enters the status only once all that is done.
func (r *JobReconciler) start(ctx context.Context, rc *reconciliation, p *plannedRun) error {
	log := ctrl.LoggerFrom(ctx)
	for _, name := range p.replace {
		if pod := rc.pods[name]; pod != nil {
			if err := r.deleteDriver(ctx, pod); err != nil {
				return err
			}
		}
		run := rc.runs[name]
		run.Phase = v1alpha1.RunFailed
		run.Reason = runid.ReasonReplaced
		run.Message = fmt.Sprintf("replaced by run '%s' (concurrencyPolicy Replace)", p.run.Name)
		run.CompletionTime = rc.timestamp()
		r.foldInsight(rc, run, rc.pods[name])
		rc.ended(run)
	}

	pod := p.objs.Pod
	setJobOwner(pod, rc.job)
	gateDriver(pod)
	if p.queue != nil {
		holdForQueue(pod, p.queue)
	}
	annotateAttempt(pod, p)
	// Remembered before the create: a create that fails after the API
	// server acted leaves a gated driver all the same.
	job := client.ObjectKeyFromObject(rc.job)
	r.starting.remember(job, pod.Name, rc.hash, rc.admitted)
	created, err := r.createDriver(ctx, rc.job, pod)
	if err != nil {
		if refused(err) && rc.admitted.Spec.RestartPolicy.Kind() != v1alpha1.RestartNever {
			rc.submissionFailed(p, err)
			return nil
		}
		return err
	}
	rc.job.Status.NextAttempt = nil
	materialize.SetDriverOwner(p.objs, pod)
	if err := r.createDependents(ctx, p.objs); err != nil {
		return err
	}
	if p.queue != nil {
		if err := r.createWorkload(ctx, pod, p.objs.Executor, p.queue); err != nil {
			return err
		}
	}
	if err := r.release(ctx, pod); err != nil {
		return err
	}
	r.starting.done(job, pod.Name)

	run := runid.FromPod(pod, rc.timestamp())
	r.foldInsight(rc, run, pod)
	rc.runs[run.Name] = run
	rc.startedName = run.Name
	rc.answered(p)
	if created {
		rc.startedRun(run)
		log.Info("run started", "run", run.Name, "trigger", run.Trigger, "revision", run.Revision, "appID", run.AppID)
	}
	return nil
}

// createDriver creates the driver pod. A pod of that name the job already
// owns is the same run created before (run names are deterministic), and
// is taken as it is; created is false then. A pod of that name owned by
// anything else stops the job.
func (r *JobReconciler) createDriver(ctx context.Context, job *v1alpha1.SparkJob, pod *corev1.Pod) (created bool, err error) {
	err = r.client.Create(ctx, pod)
	if err == nil {
		return true, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return false, fmt.Errorf("unable to create driver pod '%s/%s': %w", pod.Namespace, pod.Name, err)
	}
	existing := &corev1.Pod{}
	if err := r.apiReader.Get(ctx, client.ObjectKeyFromObject(pod), existing); err != nil {
		return false, fmt.Errorf("unable to get driver pod '%s/%s': %w", pod.Namespace, pod.Name, err)
	}
	if !isOwnedBy(existing, job) {
		return false, reconcile.TerminalError(fmt.Errorf("%w: pod '%s/%s' exists and does not belong to SparkJob '%s'", ErrInvalidSpec, pod.Namespace, pod.Name, job.Name))
	}
	*pod = *existing
	return false, nil
}

// deleteDriver deletes a driver pod, and through the garbage collector
// what it owns. The UID precondition keeps a newer pod of the same name.
func (r *JobReconciler) deleteDriver(ctx context.Context, pod *corev1.Pod) error {
	err := r.client.Delete(ctx, pod, client.Preconditions{UID: &pod.UID}, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("unable to delete driver pod '%s/%s': %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// setJobOwner gives the driver pod a non-controller ownerReference to its
// SparkJob: deleting the job deletes its runs, and nothing else claims to
// control the pod.
func setJobOwner(pod *corev1.Pod, job *v1alpha1.SparkJob) {
	ref := metav1.OwnerReference{
		APIVersion: v1alpha1.GroupVersion.String(),
		Kind:       v1alpha1.SparkJobKind,
		Name:       job.Name,
		UID:        job.UID,
	}
	for _, existing := range pod.OwnerReferences {
		if existing.UID == job.UID {
			return
		}
	}
	pod.OwnerReferences = append(pod.OwnerReferences, ref)
}
