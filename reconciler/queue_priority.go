package reconciler

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	kueue "sigs.k8s.io/kueue/apis/kueue/v1beta2"
)

// A queued run's Workload carries its priority as Kueue's own job
// integrations give it (sigs.k8s.io/kueue/pkg/controller/jobframework,
// ExtractPriority): a class named by the job — here
// batchSchedulerOptions.priorityClassName, a WorkloadPriorityClass of
// that name if one exists, else a PriorityClass — or else the
// PriorityClass of the pods (the driver's, then the executors'), or else
// the cluster's global default PriorityClass; with none of them the
// Workload has no priority and Kueue ranks it 0. Kueue's webhook does not
// fill spec.priority of a Workload written by hand, so the value is
// resolved here, once, when the Workload is made. The classes are read
// with sparkcd's own identity, through the API reader: they are cluster
// objects a source's service account need not see, and only a queued
// run's start reads them.

// workloadPriority resolves the priority class reference and value of a
// run's Workload; nil and 0 when no class applies.
func (r *JobReconciler) workloadPriority(ctx context.Context, name string, pods ...*corev1.Pod) (*kueue.PriorityClassRef, int32, error) {
	if name != "" {
		wpc := &kueue.WorkloadPriorityClass{}
		err := r.apiReader.Get(ctx, types.NamespacedName{Name: name}, wpc)
		if err == nil {
			return kueue.NewWorkloadPriorityClassRef(wpc.Name), wpc.Value, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, 0, fmt.Errorf("unable to get WorkloadPriorityClass '%s': %w", name, err)
		}
		return r.podPriority(ctx, name, "spec.batchSchedulerOptions.priorityClassName '"+name+"' names neither a WorkloadPriorityClass nor a PriorityClass")
	}
	for _, pod := range pods {
		if pod != nil && pod.Spec.PriorityClassName != "" {
			return r.podPriority(ctx, pod.Spec.PriorityClassName, "the pods' priorityClassName '"+pod.Spec.PriorityClassName+"' names no PriorityClass")
		}
	}
	pcs := &schedulingv1.PriorityClassList{}
	if err := r.apiReader.List(ctx, pcs); err != nil {
		return nil, 0, fmt.Errorf("unable to list PriorityClasses for the cluster's default: %w", err)
	}
	// Two global defaults (a race when they were made): the lower wins,
	// as Kueue and the API server's admission choose.
	var def *schedulingv1.PriorityClass
	for i := range pcs.Items {
		if pc := &pcs.Items[i]; pc.GlobalDefault && (def == nil || pc.Value < def.Value) {
			def = pc
		}
	}
	if def == nil {
		return nil, 0, nil
	}
	return kueue.NewPodPriorityClassRef(def.Name), def.Value, nil
}

// podPriority reads the PriorityClass name; notFound is the error when
// there is none.
func (r *JobReconciler) podPriority(ctx context.Context, name, notFound string) (*kueue.PriorityClassRef, int32, error) {
	pc := &schedulingv1.PriorityClass{}
	err := r.apiReader.Get(ctx, types.NamespacedName{Name: name}, pc)
	if apierrors.IsNotFound(err) {
		return nil, 0, errors.New(notFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("unable to get PriorityClass '%s': %w", name, err)
	}
	return kueue.NewPodPriorityClassRef(pc.Name), pc.Value, nil
}
