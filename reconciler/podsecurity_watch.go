package reconciler

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	psaapi "k8s.io/pod-security-admission/api"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// namespaceCache is the manager's cache entry for namespaces: both loops
// watch their metadata (watchRelabels), and read each job's level from
// that cache. Restricted to some namespaces, sparkcd watches only those:
// the API server labels every namespace kubernetes.io/metadata.name=<its
// name>, so one selector holds them all (a field selector takes one name).
func namespaceCache(namespaces []string) (cache.ByObject, bool, error) {
	if len(namespaces) == 0 {
		return cache.ByObject{}, false, nil
	}
	req, err := labels.NewRequirement(corev1.LabelMetadataName, selection.In, namespaces)
	if err != nil {
		return cache.ByObject{}, false, fmt.Errorf("%w: --namespaces %v: %v", ErrInvalidOptions, namespaces, err)
	}
	return cache.ByObject{Label: labels.NewSelector().Add(*req)}, true, nil
}

// watchRelabels adds to a loop a metadata-only watch of namespaces that
// enqueues what toJudge returns when a namespace's Pod Security labels
// change: the level its jobs are judged with changed. The watch's initial
// list wakes nobody (every object is reconciled when the loop starts), nor
// does a namespace's creation (it holds no job yet) or deletion.
func watchRelabels(b *builder.Builder, toJudge handler.MapFunc) *builder.Builder {
	return b.WatchesMetadata(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(toJudge),
		builder.WithPredicates(podSecurityRelabelled()))
}

// podSecurityRelabelled passes the updates of a namespace that change
// its enforce or enforce-version label: added, removed or changed.
func podSecurityRelabelled() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			if e.ObjectOld == nil || e.ObjectNew == nil {
				return false
			}
			before, after := e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels()
			for _, k := range []string{psaapi.EnforceLevelLabel, psaapi.EnforceVersionLabel} {
				v1, ok1 := before[k]
				v2, ok2 := after[k]
				if v1 != v2 || ok1 != ok2 {
					return true
				}
			}
			return false
		},
	}
}

// jobsIn returns the SparkJobs of the relabelled namespace, to judge
// again. A job whose verdict does not change writes nothing; a job that
// the new level refuses is Ready=False before its next run, and its
// active run goes on (observe follows it, nothing deletes it).
func (r *JobReconciler) jobsIn(ctx context.Context, ns client.Object) []reconcile.Request {
	list := &v1alpha1.SparkJobList{}
	// Only the names are read: the cache's objects, not copies.
	if err := r.client.List(ctx, list, client.InNamespace(ns.GetName()), client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "unable to list the SparkJobs of a relabelled namespace", "namespace", ns.GetName())
		return nil
	}
	logRelabel(ctx, ns, "SparkJobs", len(list.Items))
	return requestsOf(list.Items, func(j *v1alpha1.SparkJob) client.ObjectKey { return client.ObjectKeyFromObject(j) })
}

// sourcesTargeting returns the JobSources whose jobs may land in the
// relabelled namespace: their render is judged again (a source whose
// jobs' levels did not change reuses its render and writes nothing).
func (r *SourceReconciler) sourcesTargeting(ctx context.Context, ns client.Object) []reconcile.Request {
	list := &v1alpha1.JobSourceList{}
	if err := r.client.List(ctx, list); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "unable to list the JobSources of a relabelled namespace", "namespace", ns.GetName())
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if slices.Contains(targetNamespaces(&list.Items[i]), ns.GetName()) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	logRelabel(ctx, ns, "JobSources", len(reqs))
	return reqs
}

func logRelabel(ctx context.Context, ns client.Object, what string, n int) {
	l := ns.GetLabels()
	ctrl.LoggerFrom(ctx).V(1).Info("a namespace's Pod Security labels changed: judging again", "namespace", ns.GetName(),
		"enforce", l[psaapi.EnforceLevelLabel], "enforceVersion", l[psaapi.EnforceVersionLabel], "kind", what, "count", n)
}
