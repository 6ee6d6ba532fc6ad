package reconciler

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// After an RBAC change, a denial is trusted for rbacRecheck only, during
// rbacSettle: the API server that answers a SubjectAccessReview authorizes
// from its own informers, which may see the change after sparkcd's watch
// does (another API server behind the load balancer, or a slower informer).
const (
	rbacSettle  = 5 * time.Second
	rbacRecheck = time.Second
)

// rbacChange counts the RBAC changes seen in a scope, and says when the
// last one was seen.
type rbacChange struct {
	count uint64
	at    time.Time
}

// queue is the job loop's work queue, as its event handlers get it.
type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]

// watch adds to the job loop the watches that wake the jobs waiting for
// their driver's access: ServiceAccounts, and, when access is reviewed,
// RoleBindings, Roles, ClusterRoleBindings and ClusterRoles. Each watch
// keeps only metadata: a change's resourceVersion and namespace are all
// it needs, and RBAC objects are many in a large cluster.
func (a *accessReview) watch(b *builder.Builder) *builder.Builder {
	b = b.WatchesMetadata(&corev1.ServiceAccount{}, handler.Funcs{CreateFunc: a.accountCreated})
	if !a.review {
		return b
	}
	// A deleted binding or role only takes access away, which no waiting
	// job waits for.
	onChange := handler.Funcs{CreateFunc: a.rbacCreated, UpdateFunc: a.rbacUpdated}
	for _, obj := range []client.Object{&rbacv1.RoleBinding{}, &rbacv1.Role{}, &rbacv1.ClusterRoleBinding{}, &rbacv1.ClusterRole{}} {
		b = b.WatchesMetadata(obj, onChange)
	}
	return b
}

// accountCreated wakes the jobs that wait for this service account. The
// initial list wakes nobody: every job is reconciled when the loop starts.
func (a *accessReview) accountCreated(ctx context.Context, e event.CreateEvent, q queue) {
	if e.IsInInitialList {
		return
	}
	jobs := a.waitersFor(e.Object.GetNamespace(), e.Object.GetName())
	enqueue(ctx, q, jobs, "service account created", e.Object)
}

func (a *accessReview) rbacCreated(ctx context.Context, e event.CreateEvent, q queue) {
	if !e.IsInInitialList {
		enqueue(ctx, q, a.forget(e.Object.GetNamespace()), "RBAC created", e.Object)
	}
}

// rbacUpdated ignores the resyncs of the cache, which change nothing.
func (a *accessReview) rbacUpdated(ctx context.Context, e event.UpdateEvent, q queue) {
	if e.ObjectOld.GetResourceVersion() != e.ObjectNew.GetResourceVersion() {
		enqueue(ctx, q, a.forget(e.ObjectNew.GetNamespace()), "RBAC changed", e.ObjectNew)
	}
}

func enqueue(ctx context.Context, q queue, jobs []types.NamespacedName, why string, obj client.Object) {
	if len(jobs) == 0 {
		return
	}
	ctrl.LoggerFrom(ctx).V(1).Info("waking the jobs waiting for their driver's access", "why", why,
		"kind", obj.GetObjectKind().GroupVersionKind().Kind, "namespace", obj.GetNamespace(), "name", obj.GetName(), "jobs", len(jobs))
	for _, job := range jobs {
		q.Add(reconcile.Request{NamespacedName: job})
	}
}

// wait counts job among the waiters for serviceAccount.
func (a *accessReview) wait(job types.NamespacedName, serviceAccount string) {
	a.mu.Lock()
	a.waiters[job] = serviceAccount
	a.mu.Unlock()
}

// done takes job off the waiters: it may start, or it is gone.
func (a *accessReview) done(job types.NamespacedName) {
	a.mu.Lock()
	delete(a.waiters, job)
	a.mu.Unlock()
}

// waitersFor returns the jobs waiting for the service account.
func (a *accessReview) waitersFor(namespace, serviceAccount string) []types.NamespacedName {
	a.mu.Lock()
	defer a.mu.Unlock()
	var jobs []types.NamespacedName
	for job, sa := range a.waiters {
		if job.Namespace == namespace && sa == serviceAccount {
			jobs = append(jobs, job)
		}
	}
	return jobs
}

// forget drops the remembered denials of namespace, of every namespace
// when namespace is "" (a cluster-scoped binding or role), records the
// change, and returns the jobs waiting there. Grants stay: RBAC only
// grants, so a change can end a denial, and a grant taken away shows when
// the driver's executors are refused, and within allowedTTL here.
func (a *accessReview) forget(namespace string) []types.NamespacedName {
	now := a.clock.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.changes[namespace]
	a.changes[namespace] = rbacChange{count: c.count + 1, at: now}
	for sa, ans := range a.answers {
		if ans.denied != nil && (namespace == "" || sa.Namespace == namespace) {
			delete(a.answers, sa)
		}
	}
	var jobs []types.NamespacedName
	for job := range a.waiters {
		if namespace == "" || job.Namespace == namespace {
			jobs = append(jobs, job)
		}
	}
	return jobs
}

// changesOf returns the RBAC changes that reach namespace: its own and the
// cluster's. The caller holds a.mu.
func (a *accessReview) changesOf(namespace string) rbacChange {
	ns, cluster := a.changes[namespace], a.changes[""]
	c := rbacChange{count: ns.count + cluster.count, at: ns.at}
	if cluster.at.After(c.at) {
		c.at = cluster.at
	}
	return c
}
