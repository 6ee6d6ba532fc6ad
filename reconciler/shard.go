package reconciler

import (
	"context"
	"fmt"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// Sharding splits the JobSources and SparkJobs of a cluster between
// several sparkcd instances, each with a label selector of its own
// (`serve --watch-label-selector`, or `--shard NAME` for
// sparkcd.io/shard=NAME), as Flux's controllers do with
// --watch-label-selector and sharding.fluxcd.io/key. Kubernetes does the
// coordination: every instance's informers ask the API server for its own
// objects, each instance elects its leader on a Lease of its own, and no
// instance talks to another.
//
// What each instance holds and acts on:
//   - SparkJobs: only the selected ones are cached, so only they are
//     reconciled. This is what makes a shard's memory and work a share of
//     the whole.
//   - Pods: only those whose sparkcd.io/shard label the selector's
//     requirements on that key accept. A run's objects carry its job's
//     sparkcd.io/shard (render/materialize), so a shard caches its own
//     jobs' drivers and executors. Other keys of the selector are not
//     applied to pods: they need not be on them.
//   - JobSources: all are cached, only the selected ones are reconciled.
//     The job loop reads every source's inventory to decide whose identity
//     a job's runs are created with and whether the job drifted from git
//     (run_identity.go, drift.go); a job relabelled onto a shard whose
//     cache lacked its source would otherwise run as sparkcd itself. Sources
//     are few and small next to jobs.
//   - The SparkJobs a source applies carry the source's sparkcd.io/shard
//     (or none, when the source has none), whatever git says, so a source
//     and its jobs land on the same shard.

// shardCache restricts the SparkJob and Pod caches of opts to the shard
// sel selects; a nil or empty selector changes nothing. The pod cache
// keeps the selector it had (app.kubernetes.io/managed-by=sparkcd) and
// gains the shard's requirements.
func shardCache(opts *cache.Options, sel labels.Selector) {
	if sel == nil || sel.Empty() {
		return
	}
	opts.ByObject[byObjectKey(opts, &v1alpha1.SparkJob{})] = cache.ByObject{Label: sel}
	key := byObjectKey(opts, &corev1.Pod{})
	pods := opts.ByObject[key]
	podSel := pods.Label
	if podSel == nil {
		podSel = labels.Everything()
	}
	pods.Label = podSel.Add(shardRequirements(sel)...)
	opts.ByObject[key] = pods
}

// byObjectKey is the key of opts.ByObject that stands for obj's type, or
// obj when there is none. The map is keyed by pointer: a fresh
// &corev1.Pod{} is a key of its own, never the one already there, and of
// two keys of one type controller-runtime keeps whichever its range over
// the map visits last — a different one from run to run.
func byObjectKey(opts *cache.Options, obj client.Object) client.Object {
	for k := range opts.ByObject {
		if reflect.TypeOf(k) == reflect.TypeOf(obj) {
			return k
		}
	}
	return obj
}

// shardRequirements are sel's requirements on the sparkcd.io/shard key.
func shardRequirements(sel labels.Selector) []labels.Requirement {
	reqs, _ := sel.Requirements()
	var out []labels.Requirement
	for _, r := range reqs {
		if r.Key() == v1alpha1.LabelShard {
			out = append(out, r)
		}
	}
	return out
}

// ParseWatchSelector parses a --watch-label-selector; "" selects
// everything and returns nil.
func ParseWatchSelector(s string) (labels.Selector, error) {
	if s == "" {
		return nil, nil
	}
	sel, err := labels.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%w: watch label selector '%s': %w", ErrInvalidOptions, s, err)
	}
	return sel, nil
}

// selected reports whether obj is in the shard sel selects; nil selects
// every object.
func selected(sel labels.Selector, obj client.Object) bool {
	return sel == nil || sel.Matches(labels.Set(obj.GetLabels()))
}

// shardPredicate passes the events of the objects in the shard.
func shardPredicate(sel labels.Selector) predicate.Predicate {
	return predicate.NewPredicateFuncs(func(obj client.Object) bool { return selected(sel, obj) })
}

// inheritShard gives a job the source's sparkcd.io/shard label, or takes
// it away when the source has none: a source and its jobs are handled by
// one shard, and git cannot send a job elsewhere.
func inheritShard(job *v1alpha1.SparkJob, src *v1alpha1.JobSource) {
	if shard, ok := src.Labels[v1alpha1.LabelShard]; ok {
		job.Labels[v1alpha1.LabelShard] = shard
		return
	}
	delete(job.Labels, v1alpha1.LabelShard)
}

// adoptMovedDriver moves a driver pod of the job's shard's active run,
// found on the API server but not in the cache, into the job's shard: its
// job was relabelled to this shard while the run was active, and the pod
// still carries the old shard's label. Relabelled, it enters this shard's
// pod cache, whose events then follow the run to its end. Its executors
// keep the old label: the run's executor count reads 0 (docs/scaling.md).
//
// The shard is the one the API server gives the job, not the cache: the
// old shard, whose job cache has not yet seen the job leave when its pod
// cache sees the driver go, would otherwise move the driver back.
func (r *JobReconciler) adoptMovedDriver(ctx context.Context, job *v1alpha1.SparkJob, pod *corev1.Pod) error {
	if sameShard(job, pod) {
		return nil
	}
	live := &v1alpha1.SparkJob{}
	if err := r.apiReader.Get(ctx, client.ObjectKeyFromObject(job), live); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("unable to get SparkJob '%s/%s': %w", job.Namespace, job.Name, err)
	}
	if live.UID != job.UID || sameShard(live, pod) {
		return nil
	}
	want, ok := live.Labels[v1alpha1.LabelShard]
	patch := client.MergeFrom(pod.DeepCopy())
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	if ok {
		pod.Labels[v1alpha1.LabelShard] = want
	} else {
		delete(pod.Labels, v1alpha1.LabelShard)
	}
	if err := r.client.Patch(ctx, pod, patch); err != nil {
		return fmt.Errorf("unable to move driver pod '%s/%s' to the job's shard: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// sameShard reports whether pod carries job's sparkcd.io/shard label, or
// neither has one.
func sameShard(job *v1alpha1.SparkJob, pod *corev1.Pod) bool {
	want, ok := job.Labels[v1alpha1.LabelShard]
	have, had := pod.Labels[v1alpha1.LabelShard]
	return have == want && had == ok
}
