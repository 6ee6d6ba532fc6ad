package reconciler

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/policies"
)

// Condition reasons of an AllocationPolicy, besides fluxcd's Succeeded.
const (
	// ReasonInvalidPolicy: the policy does not pass validation; it is left
	// out of the set in force and refuses (Audit: warns about) every job
	// it selects until it is fixed (Stalled).
	ReasonInvalidPolicy = "InvalidPolicy"
	// ReasonShadowed: a --policies file holds a policy of the same name,
	// which is in force instead (Stalled).
	ReasonShadowed = "Shadowed"
)

// policiesRequest is the policy loop's only request: the set in force is
// rebuilt from every AllocationPolicy at once, so one key coalesces any
// burst of changes into one rebuild.
var policiesRequest = reconcile.Request{NamespacedName: types.NamespacedName{Name: "allocationpolicies"}}

// PolicyReconciler is the policy loop: it keeps a policies.Store in step
// with the cluster's AllocationPolicies and reports in each policy's
// status whether it is in force. The job and source loops judge with the
// store and judge every object again when it changes (policy_controller_watch.go).
type PolicyReconciler struct {
	client client.Client
	store  *policies.Store
}

// NewPolicyReconciler adds the policy loop to mgr: an informer on
// AllocationPolicies (their generation wakes the loop; status writes,
// its own, do not) feeding one request, and one more request when the
// loop starts, so that the store is synced even when the cluster holds
// no policy. The store should be made WithClusterPolicies, so that the
// other loops wait for that first sync.
func NewPolicyReconciler(mgr manager.Manager, store *policies.Store) (*PolicyReconciler, error) {
	if store == nil {
		return nil, fmt.Errorf("%w: the policy loop needs a store", ErrInvalidOptions)
	}
	r := &PolicyReconciler{client: client.WithFieldOwner(mgr.GetClient(), FieldManager), store: store}
	all := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{policiesRequest}
	})
	start := source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		q.Add(policiesRequest)
		return nil
	})
	err := builder.ControllerManagedBy(mgr).
		Named("allocationpolicy").
		Watches(&v1alpha1.AllocationPolicy{}, all, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesRawSource(start).
		Complete(r)
	if err != nil {
		return nil, fmt.Errorf("unable to build the policy loop: %w", err)
	}
	return r, nil
}

// Reconcile rebuilds the store from every AllocationPolicy in the cache
// and writes the status of each whose verdict changed.
func (r *PolicyReconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	list := &v1alpha1.AllocationPolicyList{}
	if err := r.client.List(ctx, list); err != nil {
		return ctrl.Result{}, fmt.Errorf("unable to list AllocationPolicies: %w", err)
	}
	// A policy being deleted (another controller's finalizer holds it)
	// is on its way out and judges nothing more.
	live := list.Items[:0]
	for i := range list.Items {
		if list.Items[i].DeletionTimestamp.IsZero() {
			live = append(live, list.Items[i])
		}
	}
	verdicts, changed, err := r.store.Update(live)
	if err != nil {
		return ctrl.Result{}, err
	}
	if changed {
		log.Info("the allocation policies in force changed", "version", r.store.Version(), "cluster", len(live))
	}
	var errs []error
	for i := range live {
		if err := r.patchStatus(ctx, &live[i], verdicts[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return ctrl.Result{}, errors.Join(errs...)
}

// patchStatus writes one policy's conditions from its verdict, when they
// change.
func (r *PolicyReconciler) patchStatus(ctx context.Context, p *v1alpha1.AllocationPolicy, v policies.Verdict) error {
	base := p.DeepCopy()
	setPolicyConditions(p, v)
	p.Status.ObservedGeneration = p.Generation
	if equality.Semantic.DeepEqual(base.Status, p.Status) {
		return nil
	}
	err := r.client.Status().Patch(ctx, p, client.MergeFrom(base))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("unable to patch the status of AllocationPolicy '%s': %w", p.Name, err)
	}
	return nil
}

// setPolicyConditions sets Ready, and Stalled for a policy that will not
// come into force until it changes, kstatus style.
func setPolicyConditions(p *v1alpha1.AllocationPolicy, v policies.Verdict) {
	reason := ReasonInvalidPolicy
	switch v.State {
	case policies.InForce:
		markReady(p, meta.SucceededReason, v.Message)
		return
	case policies.Shadowed:
		reason = ReasonShadowed
	}
	msg := boundMessage(v.Message)
	conditions.MarkStalled(p, reason, "%s", msg)
	conditions.MarkFalse(p, meta.ReadyCondition, reason, "%s", msg)
}
