package reconciler

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	kueue "sigs.k8s.io/kueue/apis/kueue/v1beta2"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/policies"
	"github.com/sparkcd/sparkcd/render/materialize"
	"github.com/sparkcd/sparkcd/runid"
)

// A run of a job with batchScheduler kueue is queued as a Kueue Workload
// that reserves what the job's envelope says the run may grow to — its
// driver and its peak executor count — before its driver may be
// scheduled (docs/queueing-kueue.md). The driver pod is made as any run's,
// gated, and keeps a second gate, v1alpha1.SchedulingGateQueue, after its
// dependents exist; the Workload, owned by the driver pod, is one more
// dependent. Once Kueue admits the Workload the gate goes, and the
// executors the driver creates fit in the quota reserved for them because
// the run cannot ask for more than spark.dynamicAllocation.maxExecutors.
// When the run ends, its Workload is deleted and the quota is free.

// The Workload's pod sets.
const (
	podSetDriver   = "driver"
	podSetExecutor = "executor"
)

// workloadGK is the kind Kueue admits.
var workloadGK = schema.GroupKind{Group: kueue.GroupVersion.Group, Kind: "Workload"}

// kueueServed reports whether the cluster serves Kueue's Workload API, and
// adds its types to the manager's scheme when it does. A sparkcd started
// before Kueue was installed does not queue: its kueue jobs are Stalled
// until it restarts.
func kueueServed(mgr manager.Manager) (bool, error) {
	if _, err := mgr.GetRESTMapper().RESTMapping(workloadGK, kueue.GroupVersion.Version); err != nil {
		if apimeta.IsNoMatchError(err) {
			return false, nil
		}
		return false, fmt.Errorf("unable to look up Kueue's Workload API: %w", err)
	}
	if err := kueue.AddToScheme(mgr.GetScheme()); err != nil {
		return false, fmt.Errorf("unable to add Kueue's types to the scheme: %w", err)
	}
	return true, nil
}

// queuePlan is how a due run is queued: its LocalQueue, and the executor
// count and the size of one executor its Workload reserves, from the
// job's envelope (policies.ComputeEnvelope sizes pods as Spark does: the
// executor pod sparkcd renders has only its template's resources, Spark
// adds cores and memory + overhead when it creates it).
type queuePlan struct {
	queue          string
	executors      int32
	executorCPU    resource.Quantity
	executorMemory resource.Quantity
	// priorityClassName is batchSchedulerOptions.priorityClassName
	// (queue_priority.go).
	priorityClassName string
}

// planQueue reads how a job's runs are queued; nil for a job without
// batchScheduler kueue. A kueue job without a queue or without a bounded
// executor count is an invalid spec: there is nothing to reserve.
func (r *JobReconciler) planQueue(job *v1alpha1.SparkJob) (*queuePlan, error) {
	if job.Spec.BatchScheduler == nil || *job.Spec.BatchScheduler != v1alpha1.KueueScheduler {
		return nil, nil
	}
	invalid := func(field, msg string) error {
		return reconcile.TerminalError(fmt.Errorf("%w: SparkJob '%s/%s': %s: %s", ErrInvalidSpec, job.Namespace, job.Name, field, msg))
	}
	if !r.kueue {
		return nil, invalid("spec.batchScheduler", "Kueue's Workload API (kueue.x-k8s.io/v1beta2) is not served: install Kueue, then restart sparkcd")
	}
	opts := job.Spec.BatchSchedulerOptions
	if opts == nil || opts.Queue == nil || *opts.Queue == "" {
		return nil, invalid("spec.batchSchedulerOptions.queue", "batchScheduler kueue needs the name of a LocalQueue in the job's namespace")
	}
	env, err := policies.ComputeEnvelope(job)
	if err != nil {
		return nil, invalid("spec", err.Error())
	}
	if env.PeakExecutors == nil {
		return nil, invalid("spec.dynamicAllocation.maxExecutors", "batchScheduler kueue reserves the run's peak executor count: set maxExecutors")
	}
	return &queuePlan{
		queue:             *opts.Queue,
		executors:         *env.PeakExecutors,
		executorCPU:       env.ExecutorCPU,
		executorMemory:    *resource.NewQuantity(env.ExecutorMemoryMiB<<20, resource.BinarySI),
		priorityClassName: ptr.Deref(opts.PriorityClassName, ""),
	}, nil
}

// holdForQueue gates a driver pod about to be created until its queue
// admits it, and names the queue on it.
func holdForQueue(pod *corev1.Pod, q *queuePlan) {
	if !runid.QueueGated(pod) {
		pod.Spec.SchedulingGates = append(pod.Spec.SchedulingGates, corev1.PodSchedulingGate{Name: v1alpha1.SchedulingGateQueue})
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[v1alpha1.AnnotationQueue] = q.queue
}

// newWorkload is the Workload that queues a run: one pod set for the
// driver, one for the executors at the run's peak count, shaped as the
// pods Spark makes, owned by the driver pod so that deleting the driver
// frees the quota. It carries no finalizer and no controller reference:
// no Kueue integration claims it, and sparkcd deletes it when the run
// ends.
func newWorkload(driver, executor *corev1.Pod, q *queuePlan) *kueue.Workload {
	run := runid.NameOf(driver)
	wl := &kueue.Workload{
		ObjectMeta: metav1.ObjectMeta{
			Name:      run,
			Namespace: driver.Namespace,
			Labels: map[string]string{
				v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue,
				v1alpha1.LabelJob:       driver.Labels[v1alpha1.LabelJob],
				v1alpha1.LabelRun:       run,
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Pod", Name: driver.Name, UID: driver.UID,
			}},
		},
		Spec: kueue.WorkloadSpec{
			QueueName: kueue.LocalQueueName(q.queue),
			PodSets:   []kueue.PodSet{{Name: podSetDriver, Count: 1, Template: podSetTemplate(driver)}},
		},
	}
	if q.executors > 0 {
		tmpl := podSetTemplate(executor)
		sizeExecutor(&tmpl.Spec, q)
		wl.Spec.PodSets = append(wl.Spec.PodSets, kueue.PodSet{Name: podSetExecutor, Count: q.executors, Template: tmpl})
	}
	return wl
}

// sizeExecutor gives the executor's container what Spark asks for it: a
// cpu request of its cores and memory + overhead as request and limit.
// Other resources of the template (GPUs) stay.
func sizeExecutor(spec *corev1.PodSpec, q *queuePlan) {
	if len(spec.Containers) == 0 {
		return
	}
	r := &spec.Containers[0].Resources
	if r.Requests == nil {
		r.Requests = corev1.ResourceList{}
	}
	if r.Limits == nil {
		r.Limits = corev1.ResourceList{}
	}
	r.Requests[corev1.ResourceCPU] = q.executorCPU
	r.Requests[corev1.ResourceMemory] = q.executorMemory
	r.Limits[corev1.ResourceMemory] = q.executorMemory
}

// podSetTemplate is a pod's spec as Kueue sizes it: what the pod asks
// of a node, without sparkcd's gates and any node already chosen.
func podSetTemplate(pod *corev1.Pod) corev1.PodTemplateSpec {
	spec := pod.Spec.DeepCopy()
	spec.SchedulingGates = nil
	spec.NodeName = ""
	return corev1.PodTemplateSpec{Spec: *spec}
}

// createWorkload queues a run whose driver pod exists. A Workload of that
// name is the same run's, queued before.
func (r *JobReconciler) createWorkload(ctx context.Context, driver, executor *corev1.Pod, q *queuePlan) error {
	wl := newWorkload(driver, executor, q)
	ref, priority, err := r.workloadPriority(ctx, q.priorityClassName, driver, executor)
	if err != nil {
		return fmt.Errorf("unable to queue run '%s' in Kueue LocalQueue '%s': %w", wl.Name, q.queue, err)
	}
	if ref != nil {
		wl.Spec.PriorityClassRef, wl.Spec.Priority = ref, &priority
	}
	if err := r.client.Create(ctx, wl); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("unable to queue run '%s' in Kueue LocalQueue '%s': %w", wl.Name, q.queue, err)
	}
	return nil
}

// followQueue moves a queued run on: its Workload is made if a stopped
// loop left it out; it is deactivated while the job is suspended (Kueue
// lets its quota go) and active otherwise; once Kueue admitted it and the
// job is not suspended, the driver goes to the scheduler. It runs before
// the run is read from its pod, so the run reads the pod as left here.
func (r *JobReconciler) followQueue(ctx context.Context, rc *reconciliation, pod *corev1.Pod) error {
	wl := &kueue.Workload{}
	err := r.client.Get(ctx, types.NamespacedName{Namespace: pod.Namespace, Name: runid.NameOf(pod)}, wl)
	if apierrors.IsNotFound(err) {
		return r.requeueRun(ctx, rc, pod)
	}
	if err != nil {
		return fmt.Errorf("unable to get the Workload of run '%s': %w", runid.NameOf(pod), err)
	}
	suspended := ptr.Deref(rc.admitted.Spec.Suspend, false)
	if ptr.Deref(wl.Spec.Active, true) == suspended {
		patch := client.MergeFrom(wl.DeepCopy())
		wl.Spec.Active = ptr.To(!suspended)
		if err := r.client.Patch(ctx, wl, patch); err != nil {
			return fmt.Errorf("unable to set the Workload of run '%s' active=%t: %w", wl.Name, !suspended, err)
		}
	}
	if suspended || !apimeta.IsStatusConditionTrue(wl.Status.Conditions, kueue.WorkloadAdmitted) {
		return nil
	}
	if evictedCondition(wl) != nil {
		return r.requeueEvicted(ctx, wl)
	}
	return r.admitDriver(ctx, pod, rc.now)
}

// requeueRun makes the Workload of a queued run whose Workload is missing:
// a loop stopped between the driver's create and the Workload's. A run of
// another spec than the admitted one is queued from the spec this process
// remembers starting it from (starting.go), or else left to complete
// (dependents.go).
func (r *JobReconciler) requeueRun(ctx context.Context, rc *reconciliation, pod *corev1.Pod) error {
	run := runid.FromPod(pod, rc.timestamp())
	admitted := rc.admitted
	if run.SpecHash != rc.hash {
		admitted = r.starting.recall(client.ObjectKeyFromObject(rc.job), pod.Name, run.SpecHash)
	}
	if admitted == nil {
		return nil
	}
	q, err := r.planQueue(admitted)
	if err != nil || q == nil {
		return err
	}
	objs, err := materialize.Materialize(admitted, runIdentity(run), r.opts.Materialize)
	if err != nil {
		return fmt.Errorf("unable to render run '%s': %w", run.Name, err)
	}
	q.queue = pod.Annotations[v1alpha1.AnnotationQueue]
	return r.createWorkload(ctx, pod, objs.Executor, q)
}

// admitDriver lets an admitted run's driver go to the scheduler, and
// records when: one patch removes sparkcd's queue gate (and no other) and
// writes the sparkcd.io/admitted-at annotation.
func (r *JobReconciler) admitDriver(ctx context.Context, pod *corev1.Pod, now time.Time) error {
	body, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{v1alpha1.AnnotationAdmittedAt: now.UTC().Format(time.RFC3339)}},
		"spec":     map[string]any{"schedulingGates": []map[string]string{{"$patch": "delete", "name": v1alpha1.SchedulingGateQueue}}},
	})
	if err != nil {
		return err
	}
	err = r.client.Patch(ctx, pod, client.RawPatch(types.StrategicMergePatchType, body))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("unable to release admitted driver pod '%s/%s' to the scheduler: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// dequeue deletes the Workload of a run that ended, so its quota is free
// for the next run in the queue; a Workload already gone is no error.
func (r *JobReconciler) dequeue(ctx context.Context, pod *corev1.Pod) error {
	wl := &kueue.Workload{}
	key := types.NamespacedName{Namespace: pod.Namespace, Name: runid.NameOf(pod)}
	if err := r.client.Get(ctx, key, wl); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !isOwnedByPod(wl, pod) {
		return nil
	}
	err := r.client.Delete(ctx, wl, client.Preconditions{UID: &wl.UID})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("unable to delete the Workload of ended run '%s': %w", key.Name, err)
	}
	return nil
}

// isOwnedByPod reports whether obj has an ownerReference to pod.
func isOwnedByPod(obj client.Object, pod *corev1.Pod) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.UID == pod.UID {
			return true
		}
	}
	return false
}

// queueStep is observe's step for a driver pod of a queued run: an
// active run waiting for admission is followed (followQueue), a run let
// go is stopped if Kueue evicted its Workload (queue_evict.go), an ended
// run's Workload is deleted.
func (r *JobReconciler) queueStep(ctx context.Context, rc *reconciliation, pod *corev1.Pod) error {
	if !r.kueue || pod.Annotations[v1alpha1.AnnotationQueue] == "" {
		return nil
	}
	switch {
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed || !pod.DeletionTimestamp.IsZero():
		return r.dequeue(ctx, pod)
	case runid.QueueGated(pod) && rc.admitted != nil:
		return r.followQueue(ctx, rc, pod)
	case !runid.QueueGated(pod):
		return r.stopEvicted(ctx, pod)
	}
	return nil
}

// workloadToJob maps a Workload sparkcd made to its SparkJob.
func workloadToJob(_ context.Context, obj client.Object) []reconcile.Request {
	l := obj.GetLabels()
	if l[v1alpha1.LabelManagedBy] != v1alpha1.ManagedByValue || l[v1alpha1.LabelJob] == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: l[v1alpha1.LabelJob]}}}
}
