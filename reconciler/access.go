package reconciler

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// How long a SubjectAccessReview's answer is trusted. A grant is stable; a
// denial is looked at again soon, since an administrator is likely fixing
// it.
const (
	allowedTTL = 10 * time.Minute
	deniedTTL  = 30 * time.Second
)

// driverNeeds is what Spark's driver does with its service account: it
// creates, watches and deletes executor pods and creates their ConfigMap.
var driverNeeds = []authorizationv1.ResourceAttributes{
	{Verb: "create", Resource: "pods"},
	{Verb: "watch", Resource: "pods"},
	{Verb: "delete", Resource: "pods"},
	{Verb: "create", Resource: "configmaps"},
}

// accessReview checks, before a run starts, that the driver's service
// account exists and may run executors, and remembers the answers for a
// while: a missing account or missing RBAC becomes a condition that says
// so, not a driver pod that is refused or fails later.
//
// A denial is forgotten as soon as the RBAC in its namespace changes, and
// the jobs told to wait are woken (access_watch.go), so a RoleBinding made
// a moment after the job is noticed at once, not when the denial expires.
type accessReview struct {
	client  client.Client
	review  bool
	clock   clock.PassiveClock
	mu      sync.Mutex
	answers map[types.NamespacedName]accessAnswer
	// waiters are the jobs that may not start until their driver's
	// service account (the value) exists and may run executors.
	waiters map[types.NamespacedName]string
	// changes are the RBAC changes seen, per namespace; "" holds the
	// cluster-scoped ones, which reach every namespace.
	changes map[string]rbacChange
	// flight makes the jobs of one namespace, reconciled together, share
	// one review.
	flight singleflight.Group
}

type accessAnswer struct {
	denied  *authorizationv1.ResourceAttributes
	expires time.Time
}

func newAccessReview(c client.Client, review bool, clk clock.PassiveClock) *accessReview {
	return &accessReview{
		client: c, review: review, clock: clk,
		answers: map[types.NamespacedName]accessAnswer{},
		waiters: map[types.NamespacedName]string{},
		changes: map[string]rbacChange{},
	}
}

// check returns why a run of job with this service account cannot start
// yet, or nil when it can. The job is counted among the waiters before
// anything is read, and taken off only when it may start: a service
// account or RBAC change that lands while check runs then wakes it again.
func (a *accessReview) check(ctx context.Context, obj client.Object, serviceAccount string) (*waiting, error) {
	job := client.ObjectKeyFromObject(obj)
	a.wait(job, serviceAccount)
	key := types.NamespacedName{Namespace: job.Namespace, Name: serviceAccount}
	sa := &metav1.PartialObjectMetadata{}
	sa.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ServiceAccount"))
	if err := a.client.Get(ctx, key, sa); err != nil {
		if apierrors.IsNotFound(err) {
			return &waiting{
				reason:  ReasonServiceAccountNotFound,
				message: fmt.Sprintf("the driver's service account '%s' does not exist in namespace '%s'", serviceAccount, job.Namespace),
			}, nil
		}
		return nil, fmt.Errorf("unable to get service account '%s': %w", key, err)
	}
	if !a.review {
		a.done(job)
		return nil, nil
	}
	ans, err := a.denied(ctx, key)
	if err != nil {
		return nil, err
	}
	if ans.denied == nil {
		a.done(job)
		return nil, nil
	}
	return &waiting{
		reason: ReasonDriverForbidden,
		message: fmt.Sprintf("the driver's service account '%s' may not %s %s in namespace '%s': bind it to a Role that allows what the Spark driver does (create, watch and delete pods, create configmaps)",
			serviceAccount, ans.denied.Verb, ans.denied.Resource, job.Namespace),
		// Until the answer expires; an RBAC change wakes the job sooner.
		retry: max(ans.expires.Sub(a.clock.Now()), rbacRecheck),
	}, nil
}

// denied returns the first thing the service account may not do, from
// SubjectAccessReviews or the remembered answer.
func (a *accessReview) denied(ctx context.Context, sa types.NamespacedName) (accessAnswer, error) {
	now := a.clock.Now()
	a.mu.Lock()
	ans, ok := a.answers[sa]
	a.mu.Unlock()
	if ok && now.Before(ans.expires) {
		return ans, nil
	}
	v, err, _ := a.flight.Do(sa.String(), func() (any, error) { return a.review1(ctx, sa, now) })
	if err != nil {
		return accessAnswer{}, err
	}
	return v.(accessAnswer), nil
}

// review1 asks the API server, with one SubjectAccessReview per need, and
// remembers the answer. A denial is remembered for deniedTTL, but only
// briefly when the namespace's RBAC changed a moment ago (the API server
// that answered may not have seen the change yet), and not at all when it
// changed during the review.
func (a *accessReview) review1(ctx context.Context, sa types.NamespacedName, now time.Time) (accessAnswer, error) {
	a.mu.Lock()
	before := a.changesOf(sa.Namespace)
	a.mu.Unlock()
	ans := accessAnswer{expires: now.Add(allowedTTL)}
	for _, need := range driverNeeds {
		attrs := need
		attrs.Namespace = sa.Namespace
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:               "system:serviceaccount:" + sa.Namespace + ":" + sa.Name,
			Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + sa.Namespace, "system:authenticated"},
			ResourceAttributes: &attrs,
		}}
		if err := a.client.Create(ctx, sar); err != nil {
			return accessAnswer{}, fmt.Errorf("unable to review the access of service account '%s': %w", sa, err)
		}
		if !sar.Status.Allowed {
			ans = accessAnswer{denied: &attrs, expires: now.Add(deniedTTL)}
			break
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	after := a.changesOf(sa.Namespace)
	switch {
	case ans.denied == nil:
	case after.count != before.count:
		ans.expires = now
		return ans, nil
	case now.Sub(after.at) < rbacSettle:
		ans.expires = now.Add(rbacRecheck)
	}
	a.answers[sa] = ans
	return ans, nil
}
