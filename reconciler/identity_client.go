package reconciler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/cache"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// Per-source identity (docs/multi-tenancy.md), as Flux's
// serviceAccountName on a Kustomization: the writes the source loop makes
// for a JobSource, and the job loop for the runs of its SparkJobs, are
// sent as the source's service account by impersonation, so a jobs
// repository can only create what that account may. Reads keep sparkcd's
// own identity and its caches, and so do the status writes and the
// JobSource's finalizer, which are sparkcd's own.
//
// The account rides in the context: a loop puts it there once, where it
// knows whose object it writes (withServiceAccount), and the loop's
// client sends every create, update, patch, apply and delete made with
// that context through a client impersonating it. A context without one
// writes as sparkcd, as before.

// IdentityOptions say whose identity the loops write with.
type IdentityOptions struct {
	// DefaultServiceAccount is impersonated, in the JobSource's own
	// namespace, by a source without spec.serviceAccountName, and in a
	// SparkJob's namespace by the runs of a job no source applied: with
	// it, nothing a tenant asks for is written with sparkcd's identity.
	DefaultServiceAccount string
	// NoCrossNamespaceTargets refuses the jobs and supporting objects a
	// source would apply outside its own namespace (Flux's
	// --no-cross-namespace-refs): they get a finding and a Ready=False
	// condition with reason CrossNamespaceTargetsRefused, and nothing is
	// written there.
	NoCrossNamespaceTargets bool
	// MaxClients bounds the impersonating clients kept, one per service
	// account; the least recently used goes first. Zero means 256.
	MaxClients int
	// IdleTimeout drops a client unused for this long. Zero means ten
	// minutes.
	IdleTimeout time.Duration
}

// serviceAccount is a service account the loops write as.
type serviceAccount struct{ namespace, name string }

func (sa serviceAccount) String() string { return sa.namespace + "/" + sa.name }

// username is the user the API server knows the account as.
func (sa serviceAccount) username() string {
	return "system:serviceaccount:" + sa.namespace + ":" + sa.name
}

type serviceAccountKey struct{}

// withServiceAccount makes the writes of the loops' clients made with ctx
// go out as sa.
func withServiceAccount(ctx context.Context, sa serviceAccount) context.Context {
	return context.WithValue(ctx, serviceAccountKey{}, sa)
}

func serviceAccountFrom(ctx context.Context) (serviceAccount, bool) {
	sa, ok := ctx.Value(serviceAccountKey{}).(serviceAccount)
	return sa, ok
}

// ImpersonationError is the API server's refusal of a write sent as a
// source's service account: the account may not do what its repository
// asks. It wraps the API server's error, so apierrors.IsForbidden holds.
type ImpersonationError struct {
	// ServiceAccount is "<namespace>/<name>".
	ServiceAccount string
	// Verb is the RBAC verb refused (server-side apply is a patch).
	Verb string
	// Kind, Namespace and Name are the object's.
	Kind, Namespace, Name string
	// Err is the API server's error.
	Err error
}

func (e *ImpersonationError) Error() string {
	return fmt.Sprintf("service account '%s' may not %s %s '%s' in namespace '%s': %v",
		e.ServiceAccount, e.Verb, e.Kind, e.Name, e.Namespace, e.Err)
}

func (e *ImpersonationError) Unwrap() error { return e.Err }

// identities builds and keeps one client per service account, on the
// manager's rest.Config: the same API server, TLS and leader-election
// fence (every write still goes through it), and one rate limiter shared
// by all of them with the manager's QPS and burst, so tenants together
// cannot send more than sparkcd's own budget.
type identities struct {
	base    *rest.Config
	opts    client.Options
	limiter flowcontrol.RateLimiter
	ttl     time.Duration

	mu      sync.Mutex
	clients *cache.LRUExpireCache
}

// newIdentities builds the clients on base, the manager's configuration,
// with opts (the manager's scheme and REST mapper).
func newIdentities(base *rest.Config, opts client.Options, o IdentityOptions) *identities {
	cfg := rest.CopyConfig(base)
	size, ttl := o.MaxClients, o.IdleTimeout
	if size <= 0 {
		size = 256
	}
	if ttl <= 0 {
		ttl = 10 * time.Minute
	}
	qps, burst := cfg.QPS, cfg.Burst
	if qps <= 0 {
		qps, burst = DefaultManagerOptions().QPS, DefaultManagerOptions().Burst
	}
	return &identities{
		base:    cfg,
		opts:    opts,
		limiter: flowcontrol.NewTokenBucketRateLimiter(qps, max(burst, 1)),
		ttl:     ttl,
		clients: cache.NewLRUExpireCache(size),
	}
}

// client returns the client impersonating sa, building it on first use;
// each use keeps it another ttl.
func (ids *identities) client(sa serviceAccount) (client.Client, error) {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	if c, ok := ids.clients.Get(sa); ok {
		ids.clients.Add(sa, c, ids.ttl)
		return c.(client.Client), nil
	}
	cfg := rest.CopyConfig(ids.base)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: sa.username()}
	cfg.RateLimiter = ids.limiter
	cfg = rest.AddUserAgent(cfg, "sparkcd-as-"+sa.namespace+"-"+sa.name)
	c, err := client.New(cfg, ids.opts)
	if err != nil {
		return nil, fmt.Errorf("unable to build the client of service account '%s': %w", sa, err)
	}
	c = client.WithFieldOwner(c, FieldManager)
	ids.clients.Add(sa, c, ids.ttl)
	return c, nil
}

// identityClient is a loop's client: reads, status writes and writes made
// with a context without a service account use the embedded client
// (sparkcd's identity and caches); other writes go out as the context's
// service account.
type identityClient struct {
	client.Client
	ids *identities
}

func newIdentityClient(mgr manager.Manager, base client.Client, o IdentityOptions) *identityClient {
	opts := client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper()}
	return &identityClient{Client: base, ids: newIdentities(mgr.GetConfig(), opts, o)}
}

// writer is the client for ctx's writes, and the account it writes as.
func (c *identityClient) writer(ctx context.Context) (client.Writer, *serviceAccount, error) {
	sa, ok := serviceAccountFrom(ctx)
	if !ok {
		return c.Client, nil, nil
	}
	w, err := c.ids.client(sa)
	return w, &sa, err
}

// Create implements client.Writer.
func (c *identityClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	w, sa, err := c.writer(ctx)
	if err == nil {
		err = w.Create(ctx, obj, opts...)
	}
	return c.refused(sa, "create", obj, err)
}

// Update implements client.Writer.
func (c *identityClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	w, sa, err := c.writer(ctx)
	if err == nil {
		err = w.Update(ctx, obj, opts...)
	}
	return c.refused(sa, "update", obj, err)
}

// Patch implements client.Writer.
func (c *identityClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	w, sa, err := c.writer(ctx)
	if err == nil {
		err = w.Patch(ctx, obj, patch, opts...)
	}
	return c.refused(sa, "patch", obj, err)
}

// Delete implements client.Writer.
func (c *identityClient) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	w, sa, err := c.writer(ctx)
	if err == nil {
		err = w.Delete(ctx, obj, opts...)
	}
	return c.refused(sa, "delete", obj, err)
}

// DeleteAllOf implements client.Writer.
func (c *identityClient) DeleteAllOf(ctx context.Context, obj client.Object, opts ...client.DeleteAllOfOption) error {
	w, sa, err := c.writer(ctx)
	if err == nil {
		err = w.DeleteAllOf(ctx, obj, opts...)
	}
	return c.refused(sa, "deletecollection", obj, err)
}

// Apply implements client.Writer. A server-side apply is a patch (a
// create when the object is new: the API server checks both).
func (c *identityClient) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
	w, sa, err := c.writer(ctx)
	if err == nil {
		err = w.Apply(ctx, obj, opts...)
	}
	if sa == nil || !apierrors.IsForbidden(err) {
		return err
	}
	ie := &ImpersonationError{ServiceAccount: sa.String(), Verb: "patch", Err: err}
	if u, ok := obj.(interface {
		GetKind() string
		GetNamespace() string
		GetName() string
	}); ok {
		ie.Kind, ie.Namespace, ie.Name = u.GetKind(), u.GetNamespace(), u.GetName()
	} else {
		ie.Kind = resourceOf(err)
	}
	return ie
}

// refused turns the API server's Forbidden to a write sent as sa into an
// ImpersonationError naming the account, the verb and the object.
func (c *identityClient) refused(sa *serviceAccount, verb string, obj client.Object, err error) error {
	if sa == nil || !apierrors.IsForbidden(err) {
		return err
	}
	kind := resourceOf(err)
	if gvk, gerr := c.GroupVersionKindFor(obj); gerr == nil {
		kind = gvk.Kind
	}
	return &ImpersonationError{ServiceAccount: sa.String(), Verb: verb, Kind: kind,
		Namespace: obj.GetNamespace(), Name: obj.GetName(), Err: err}
}

// resourceOf is the resource an API error names, such as
// "sparkjobs.sparkcd.io".
func resourceOf(err error) string {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil {
		return "object"
	}
	d := status.Status().Details
	return strings.TrimSuffix(d.Kind+"."+d.Group, ".")
}

var (
	_ client.Client = (*identityClient)(nil)
	_ error         = (*ImpersonationError)(nil)
)
