package reconciler

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/materialize"
	"github.com/sparkcd/sparkcd/runid"
)

// A run is written in four steps: the driver pod, gated; its ConfigMap,
// Service and Ingress, owned by the pod; the gate's removal; the SparkJob's
// status. The driver pod comes first because its deterministic name makes
// a second start of the same run AlreadyExists, and the gate
// (v1alpha1.SchedulingGateDependents) keeps it from the scheduler, and so
// from every kubelet, until the objects it mounts and its executors dial
// exist: no driver runs half-made, whichever step a stopped sparkcd did
// last. The next reconcile finishes what is missing, or fails the run as
// Interrupted when its spec is gone.

// releasePatch removes sparkcd's scheduling gate and no other: a strategic
// merge patch deleting one element of the list by its merge key, so a
// queue's gate on the same pod stays.
var releasePatch = client.RawPatch(types.StrategicMergePatchType,
	[]byte(`{"spec":{"schedulingGates":[{"$patch":"delete","name":"`+v1alpha1.SchedulingGateDependents+`"}]}}`))

// gateDriver holds a driver pod about to be created back from scheduling.
func gateDriver(pod *corev1.Pod) {
	if !gated(pod) {
		pod.Spec.SchedulingGates = append(pod.Spec.SchedulingGates, corev1.PodSchedulingGate{Name: v1alpha1.SchedulingGateDependents})
	}
}

// gated reports whether a driver pod still waits for its dependents.
func gated(pod *corev1.Pod) bool {
	for _, g := range pod.Spec.SchedulingGates {
		if g.Name == v1alpha1.SchedulingGateDependents {
			return true
		}
	}
	return false
}

// release lets the scheduler have a driver whose dependents exist. A pod
// deleted meanwhile is no error: the run's end is observed from that.
func (r *JobReconciler) release(ctx context.Context, pod *corev1.Pod) error {
	if !gated(pod) {
		return nil
	}
	err := r.client.Patch(ctx, pod, releasePatch)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("unable to release driver pod '%s/%s' to the scheduler: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// createDependents creates the run's ConfigMap, Service and its optional
// objects (UI service and Ingress, driverIngressOptions' Services and
// Ingresses, the driver's PodDisruptionBudget, the batch scheduler's
// PodGroup), one after the other; the ones that exist already are left as
// they are. The PodGroup goes first: a driver whose ConfigMap and Service
// exist then has its PodGroup too, which complete relies on when it
// releases a driver whose spec changed since (its scheduler would hold a
// grouped driver without its group for ever). In order, not at once: a
// run left with a ConfigMap but no Service whose job changed since can
// only fail as Interrupted, and the order keeps that state to one point
// of the start (docs/scaling.md).
func (r *JobReconciler) createDependents(ctx context.Context, objs *materialize.Objects) error {
	deps := objs.Dependents()
	if pg := objs.PodGroup; pg != nil {
		deps = slices.DeleteFunc(deps, func(d materialize.Dependent) bool { return d == materialize.Dependent(pg) })
		deps = append([]materialize.Dependent{pg}, deps...)
	}
	for _, obj := range deps {
		if err := r.client.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("unable to create %s '%s/%s': %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetNamespace(), obj.GetName(), err)
		}
	}
	return nil
}

// complete finishes a run a stopped loop left half-made: a driver still
// gated, or — made by a sparkcd from before the gate — a driver missing
// its dependents. From the spec it was rendered from, the missing
// dependents are created and the driver released. That spec is the job's
// while it did not change, or the one this process remembers starting
// the run from (starting.go). Otherwise it cannot be rendered again: a
// driver whose ConfigMap and Service exist is released; one without them
// never runs, and its run fails as Interrupted.
func (r *JobReconciler) complete(ctx context.Context, rc *reconciliation, pod *corev1.Pod, run *v1alpha1.RunStatus) error {
	if runid.Finished(run) {
		return nil
	}
	job := client.ObjectKeyFromObject(rc.job)
	admitted := rc.admitted
	if run.SpecHash != rc.hash {
		admitted = r.starting.recall(job, pod.Name, run.SpecHash)
	}
	if admitted != nil {
		objs, err := materialize.Materialize(admitted, runIdentity(run), r.opts.Materialize)
		if err != nil {
			return fmt.Errorf("unable to render run '%s': %w", run.Name, err)
		}
		materialize.SetDriverOwner(objs, pod)
		if err := r.createDependents(ctx, objs); err != nil {
			return err
		}
		if err := r.release(ctx, pod); err != nil {
			return err
		}
		r.starting.done(job, pod.Name)
		return nil
	}
	exist, err := r.dependentsExist(ctx, rc.job.Namespace, run)
	if err != nil {
		return err
	}
	if exist {
		return r.release(ctx, pod)
	}
	r.interrupt(rc, pod, run)
	return nil
}

// interrupt marks a run that cannot be completed as failed, Interrupted
// (observe reports its end), and ends the reconcile with the status
// write, before any new run starts. Its driver, which never started (or, made before the
// gate, never could), is deleted only by a reconcile that reads the run
// recorded (see observe): while it exists its name stays taken, so a
// reconcile from a cache that has not seen the record yet cannot start
// the run under its first name while the record sends the retry to
// another.
func (r *JobReconciler) interrupt(rc *reconciliation, pod *corev1.Pod, run *v1alpha1.RunStatus) {
	never := "could never start"
	if gated(pod) {
		never = "never started"
	}
	run.Phase = v1alpha1.RunFailed
	run.Reason = runid.ReasonInterrupted
	run.Message = fmt.Sprintf("sparkcd stopped before the run's ConfigMap and Service were created, and the spec changed since (spec hash %s, now %s); the driver %s and is deleted",
		runid.Short(run.SpecHash), runid.Short(rc.hash), never)
	run.CompletionTime = rc.timestamp()
	rc.interrupted = true
}

// dependentsExist asks the API whether a run's ConfigMap and Service exist.
func (r *JobReconciler) dependentsExist(ctx context.Context, namespace string, run *v1alpha1.RunStatus) (bool, error) {
	for _, obj := range []struct{ kind, name string }{
		{"ConfigMap", runid.ConfigMapName(run.Name)},
		{"Service", runid.ServiceName(run.Name, run.AppID)},
	} {
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(obj.kind))
		err := r.apiReader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: obj.name}, m)
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("unable to get %s '%s/%s': %w", obj.kind, namespace, obj.name, err)
		}
	}
	return true, nil
}
