package cleanup

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

// finishedPhases leaves out, on the server, every pod that has not ended:
// a pass never even sees a running or pending driver.
var finishedPhases = fields.AndSelectors(
	fields.OneTermNotEqualSelector("status.phase", string(corev1.PodPending)),
	fields.OneTermNotEqualSelector("status.phase", string(corev1.PodRunning)),
	fields.OneTermNotEqualSelector("status.phase", string(corev1.PodUnknown)),
)

// scope is one list of driver pods.
type scope struct {
	namespace string
	selector  labels.Selector
	// managed is set for the drivers sparkcd manages.
	managed bool
}

// scopes are the lists a pass makes: the managed drivers in Namespaces (or
// everywhere), and the Selector's drivers in SelectorNamespaces, less the
// managed ones and less executors, which belong to their drivers.
func (c *Cleanup) scopes() ([]scope, error) {
	var out []scope
	for _, ns := range namespacesOrAll(c.opts.Namespaces) {
		out = append(out, scope{namespace: ns, selector: managedDrivers, managed: true})
	}
	if c.opts.Selector == nil {
		return out, nil
	}
	notManaged, err := labels.NewRequirement(v1alpha1.LabelManagedBy, selection.NotEquals, []string{v1alpha1.ManagedByValue})
	if err != nil {
		return nil, fmt.Errorf("unable to build the cleanup selector: %w", err)
	}
	notExecutor, err := labels.NewRequirement(v1alpha1.LabelSparkRole, selection.NotEquals, []string{v1alpha1.RoleExecutor})
	if err != nil {
		return nil, fmt.Errorf("unable to build the cleanup selector: %w", err)
	}
	extra := c.opts.Selector.DeepCopySelector().Add(*notManaged, *notExecutor)
	for _, ns := range c.opts.SelectorNamespaces {
		out = append(out, scope{namespace: ns, selector: extra})
	}
	return out, nil
}

func namespacesOrAll(namespaces []string) []string {
	if len(namespaces) == 0 {
		return []string{metav1.NamespaceAll}
	}
	return namespaces
}

// listJobs reads the history limits and TTLs of the SparkJobs in scope.
func (c *Cleanup) listJobs(ctx context.Context) (map[types.UID]jobLimits, error) {
	jobs := map[types.UID]jobLimits{}
	for _, ns := range namespacesOrAll(c.opts.Namespaces) {
		base := []client.ListOption{client.InNamespace(ns), client.Limit(c.opts.PageSize)}
		if c.opts.JobSelector != nil {
			base = append(base, client.MatchingLabelsSelector{Selector: c.opts.JobSelector})
		}
		opts := base
		for {
			// A fresh list per page: decoding into the last page's items
			// could carry its fields over.
			list := &v1alpha1.SparkJobList{}
			if err := c.wait(ctx); err != nil {
				return nil, err
			}
			if err := c.client.List(ctx, list, opts...); err != nil {
				return nil, fmt.Errorf("unable to list the SparkJobs%s: %w", inNamespace(ns), err)
			}
			for i := range list.Items {
				job := &list.Items[i]
				jobs[job.UID] = limitsOf(job, c.opts.HistoryLimit)
			}
			if list.Continue == "" {
				break
			}
			opts = append(base[:len(base):len(base)], client.Continue(list.Continue))
		}
	}
	return jobs, nil
}

// limitsOf reads a job's history limits (3 when unset, as SetDefaults has
// it), its TTL, and which runs the job loop has recorded; historyLimit is
// the job loop's bound on status.history.
func limitsOf(job *v1alpha1.SparkJob, historyLimit int) jobLimits {
	l := jobLimits{
		namespace: job.Namespace,
		name:      job.Name,
		succeeded: int(v1alpha1.DefaultRunHistoryLimit),
		failed:    int(v1alpha1.DefaultRunHistoryLimit),
	}
	if n := job.Spec.SuccessfulRunHistoryLimit; n != nil {
		l.succeeded = int(max(*n, 0))
	}
	if n := job.Spec.FailedRunHistoryLimit; n != nil {
		l.failed = int(max(*n, 0))
	}
	if len(job.Status.ActiveRuns) > 0 {
		l.active = make(map[string]bool, len(job.Status.ActiveRuns))
		for _, name := range job.Status.ActiveRuns {
			l.active[name] = true
		}
	}
	if n := len(job.Status.History); n > 0 {
		l.history = make(map[string]bool, n)
		for _, run := range job.Status.History {
			l.history[run.Name] = true
		}
		if n >= historyLimit {
			l.oldest = job.Status.History[n-1].DeepCopy()
		}
	}
	if s := job.Spec.TimeToLiveSeconds; s != nil {
		ttl := time.Duration(max(*s, 0)) * time.Second
		l.ttl = &ttl
	}
	return l
}

// listDrivers lists the finished drivers in scope, page by page, keeping a
// small record of each.
func (c *Cleanup) listDrivers(ctx context.Context) ([]candidate, error) {
	scopes, err := c.scopes()
	if err != nil {
		return nil, err
	}
	var out []candidate
	for _, s := range scopes {
		base := []client.ListOption{
			client.InNamespace(s.namespace),
			client.MatchingLabelsSelector{Selector: s.selector},
			client.MatchingFieldsSelector{Selector: finishedPhases},
			client.Limit(c.opts.PageSize),
		}
		opts := base
		for {
			list := &corev1.PodList{}
			if err := c.wait(ctx); err != nil {
				return nil, err
			}
			if err := c.client.List(ctx, list, opts...); err != nil {
				return nil, fmt.Errorf("unable to list the driver pods '%s'%s: %w", s.selector, inNamespace(s.namespace), err)
			}
			for i := range list.Items {
				if d, ok := candidateOf(&list.Items[i], s.managed); ok {
					out = append(out, d)
				}
			}
			if list.Continue == "" {
				break
			}
			opts = append(base[:len(base):len(base)], client.Continue(list.Continue))
		}
	}
	return out, nil
}

// candidateOf reduces a finished driver pod to a candidate. Pods that are
// being deleted, or whose phase is not terminal after all, are left out.
func candidateOf(pod *corev1.Pod, managed bool) (candidate, bool) {
	if pod.DeletionTimestamp != nil || (pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed) {
		return candidate{}, false
	}
	d := candidate{
		namespace: pod.Namespace,
		name:      pod.Name,
		uid:       pod.UID,
		phase:     pod.Status.Phase,
		finished:  FinishedAt(pod),
	}
	if managed {
		if ref := jobOwner(pod); ref != nil {
			d.job, d.jobName = ref.UID, ref.Name
			d.run = runid.FromPod(pod, nil)
		}
	}
	return d, true
}

// FinishedAt is when a finished pod ended: its driver container's
// terminated.finishedAt (the container Spark names, else the last of any
// container to end), else the latest transition of its Ready or
// ContainersReady condition to False, else its start time, else its
// creation. The fallbacks only ever make a pod look older than it is
// where a kubelet reported nothing better.
func FinishedAt(pod *corev1.Pod) time.Time {
	var latest time.Time
	for _, cs := range pod.Status.ContainerStatuses {
		t := cs.State.Terminated
		if t == nil || t.FinishedAt.IsZero() {
			continue
		}
		if cs.Name == runid.DriverContainerName {
			return t.FinishedAt.Time
		}
		if t.FinishedAt.After(latest) {
			latest = t.FinishedAt.Time
		}
	}
	if !latest.IsZero() {
		return latest
	}
	for _, cond := range pod.Status.Conditions {
		if (cond.Type == corev1.PodReady || cond.Type == corev1.ContainersReady) && cond.Status == corev1.ConditionFalse && cond.LastTransitionTime.After(latest) {
			latest = cond.LastTransitionTime.Time
		}
	}
	if !latest.IsZero() {
		return latest
	}
	if pod.Status.StartTime != nil {
		return pod.Status.StartTime.Time
	}
	return pod.CreationTimestamp.Time
}

// jobOwner returns the ownerReference of obj to a SparkJob, if any.
func jobOwner(obj client.Object) *metav1.OwnerReference {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Kind == v1alpha1.SparkJobKind && strings.HasPrefix(ref.APIVersion, v1alpha1.GroupVersion.Group+"/") {
			return &ref
		}
	}
	return nil
}

func inNamespace(ns string) string {
	if ns == "" {
		return ""
	}
	return " in namespace '" + ns + "'"
}
