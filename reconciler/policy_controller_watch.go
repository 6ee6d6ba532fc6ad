package reconciler

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/sparkcd/sparkcd/admission"
	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/policies"
)

// livePolicies are policies that change while sparkcd runs, as the policy
// loop rebuilds them: the job and source loops wait until they are synced
// before they judge anything, and judge every object again when they
// change.
type livePolicies interface {
	// Synced is closed once the policies are complete.
	Synced() <-chan struct{}
	// Changed is closed when the policies in force are replaced.
	Changed() <-chan struct{}
}

var _ livePolicies = (*policies.Store)(nil)

// listRetryDelay spaces the attempts to list the objects to judge again.
const listRetryDelay = time.Second

// policyChanges is a source of a loop's controller: its WaitForSync holds
// the loop's workers until the policies are synced, and each change of the
// policies enqueues every object list returns. With policies that never
// change it does nothing.
type policyChanges struct {
	policies livePolicies
	list     func(context.Context) ([]reconcile.Request, error)
}

var _ source.SyncingSource = (*policyChanges)(nil)

// onPolicyChange returns the source that makes a loop judge again every
// object list returns when p changes.
func onPolicyChange(p admission.Policies, list func(context.Context) ([]reconcile.Request, error)) *policyChanges {
	live, _ := p.(livePolicies)
	return &policyChanges{policies: live, list: list}
}

// Start follows the policies' changes until ctx ends.
func (s *policyChanges) Start(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
	if s.policies == nil {
		return nil
	}
	go s.follow(ctx, q)
	return nil
}

// follow enqueues every object after each change. The next change's
// channel is taken before the objects are listed, so a change made while
// they are enqueued is not missed.
func (s *policyChanges) follow(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	log := ctrl.LoggerFrom(ctx)
	changed := s.policies.Changed()
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
		changed = s.policies.Changed()
		for {
			reqs, err := s.list(ctx)
			if err == nil {
				for _, r := range reqs {
					q.Add(r)
				}
				break
			}
			log.Error(err, "unable to list the objects to judge with the new policies")
			select {
			case <-ctx.Done():
				return
			case <-time.After(listRetryDelay):
			}
		}
	}
}

// WaitForSync returns once the policies are synced, so that no object is
// judged without the cluster's policies.
func (s *policyChanges) WaitForSync(ctx context.Context) error {
	if s.policies == nil {
		return nil
	}
	select {
	case <-s.policies.Synced():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("the cluster's AllocationPolicies were not read: %w", ctx.Err())
	}
}

// String names the source in controller-runtime's logs.
func (s *policyChanges) String() string { return "allocation policy changes" }

// allJobs lists every SparkJob in the cache, to judge again.
func (r *JobReconciler) allJobs(ctx context.Context) ([]reconcile.Request, error) {
	list := &v1alpha1.SparkJobList{}
	// Only the names are read: the cache's own objects, not a copy of
	// every job (10,000 jobs were 47 MiB at each policy change, the
	// first one at start-up: the peak of the process's memory).
	if err := r.client.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("unable to list SparkJobs: %w", err)
	}
	return requestsOf(list.Items, func(j *v1alpha1.SparkJob) types.NamespacedName { return client.ObjectKeyFromObject(j) }), nil
}

// allSources lists every JobSource in the cache, to judge again.
func (r *SourceReconciler) allSources(ctx context.Context) ([]reconcile.Request, error) {
	list := &v1alpha1.JobSourceList{}
	if err := r.client.List(ctx, list); err != nil {
		return nil, fmt.Errorf("unable to list JobSources: %w", err)
	}
	return requestsOf(list.Items, func(s *v1alpha1.JobSource) types.NamespacedName { return client.ObjectKeyFromObject(s) }), nil
}

func requestsOf[T any](items []T, key func(*T) types.NamespacedName) []reconcile.Request {
	reqs := make([]reconcile.Request, len(items))
	for i := range items {
		reqs[i] = reconcile.Request{NamespacedName: key(&items[i])}
	}
	return reqs
}
