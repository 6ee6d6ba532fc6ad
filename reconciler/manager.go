package reconciler

import (
	"fmt"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// ManagerOptions configure the manager that runs sparkcd's loops.
type ManagerOptions struct {
	// Namespaces limits the caches, and so everything sparkcd watches and
	// acts on, to these namespaces; empty means all namespaces.
	Namespaces []string
	// MetricsAddr is where /metrics is served, such as ":8080"; empty or
	// "0" serves no metrics.
	MetricsAddr string
	// HealthAddr is where /healthz and /readyz are served, such as
	// ":8081"; empty serves none.
	HealthAddr string
	// PprofAddr is where Go's profiles (/debug/pprof/) are served, such
	// as "127.0.0.1:6060"; empty serves none.
	PprofAddr string
	// LeaderElection makes only the holder of a Lease run the loops, for
	// more than one replica. It also fences the manager's writes: every
	// request but a GET (events included) is refused with ErrNotLeader
	// unless the last successful renewal of the Lease started less than
	// RenewDeadline ago, so a leader that was paused past its Lease writes
	// nothing before it notices and exits (see fence.go).
	LeaderElection bool
	// LeaderElectionNamespace holds the Lease; empty means the namespace
	// sparkcd runs in.
	LeaderElectionNamespace string
	// LeaderElectionID names the Lease.
	LeaderElectionID string
	// LeaseDuration is how long a Lease holder that stopped renewing keeps
	// it before another replica takes over; RenewDeadline how long the
	// holder tries to renew before it gives up; RetryPeriod how often
	// replicas try, and how long after the start of its last renewal the
	// leader still writes. Zero keeps controller-runtime's 15s, 10s and 2s.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// QPS and Burst limit the client's requests per second; zero keeps the
	// rest.Config's own limits, or the defaults when it has none.
	QPS   float32
	Burst int
	// Logger is the manager's logger, handed to every reconcile through its
	// context.
	Logger logr.Logger
	// WatchSelector, when set, makes this instance one shard: its caches
	// hold only the SparkJobs it selects and the pods of those jobs
	// (shard.go). Give the source loop the same selector
	// (SourceOptions.WatchSelector).
	WatchSelector labels.Selector
}

// DefaultManagerOptions returns the manager defaults: no metrics and no
// health endpoints, no leader election (with the Lease's timing of
// controller-runtime when it is turned on), all namespaces, and a client
// allowed 500 requests per second with bursts of 1,000. A run's start is
// about six requests (its driver, ConfigMap and Service, the release of
// the driver, the status, an event) and its end two or three more: at 100
// per second the client alone capped the job loop near 1,000 runs a
// minute. The API server protects itself with API Priority and Fairness,
// which queues sparkcd's requests in their own flow instead of failing
// other clients' (docs/scaling.md).
func DefaultManagerOptions() ManagerOptions {
	return ManagerOptions{
		LeaderElectionID: "sparkcd-leader",
		LeaseDuration:    15 * time.Second,
		RenewDeadline:    10 * time.Second,
		RetryPeriod:      2 * time.Second,
		QPS:              500,
		Burst:            1000,
	}
}

// NewManager returns a controller-runtime manager for sparkcd's loops. Its
// pod cache holds only the pods sparkcd manages (app.kubernetes.io/managed-by
// =sparkcd: drivers, and executors through their pod template), no cache
// keeps managedFields, and health checks answer once the manager runs.
// With leader election, its writes are fenced by the Lease (fence.go).
func NewManager(cfg *rest.Config, opts ManagerOptions) (manager.Manager, error) {
	d := DefaultManagerOptions()
	if opts.LeaderElectionID == "" {
		opts.LeaderElectionID = d.LeaderElectionID
	}
	opts.LeaseDuration = positiveOr(opts.LeaseDuration, d.LeaseDuration)
	opts.RenewDeadline = positiveOr(opts.RenewDeadline, d.RenewDeadline)
	opts.RetryPeriod = positiveOr(opts.RetryPeriod, d.RetryPeriod)
	cfg = rest.CopyConfig(cfg)
	switch {
	case opts.QPS > 0:
		cfg.QPS, cfg.Burst = opts.QPS, max(opts.Burst, int(opts.QPS))
	case cfg.QPS <= 0:
		cfg.QPS, cfg.Burst = d.QPS, d.Burst
	}
	scheme, err := v1alpha1.NewScheme()
	if err != nil {
		return nil, err
	}
	copts, err := cacheOptions(opts.Namespaces)
	if err != nil {
		return nil, err
	}
	shardCache(&copts, opts.WatchSelector)
	metricsAddr := opts.MetricsAddr
	if metricsAddr == "" {
		metricsAddr = "0"
	}
	mopts := manager.Options{
		Scheme:                        scheme,
		Logger:                        opts.Logger,
		Cache:                         copts,
		Metrics:                       metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress:        opts.HealthAddr,
		PprofBindAddress:              opts.PprofAddr,
		LeaderElection:                opts.LeaderElection,
		LeaderElectionNamespace:       opts.LeaderElectionNamespace,
		LeaderElectionID:              opts.LeaderElectionID,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &opts.LeaseDuration,
		RenewDeadline:                 &opts.RenewDeadline,
		RetryPeriod:                   &opts.RetryPeriod,
		GracefulShutdownTimeout:       ptr.To(30 * time.Second),
		// sparkcd runs one manager per process, but its tests start several
		// in turn, which the global controller-name check would refuse.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	}
	var lock *fencedLock
	var events *leaseEvents
	if opts.LeaderElection {
		// The Lease's lock is built on the configuration without the
		// fence; everything else the manager builds from cfg, with it.
		f := newFence(clock.RealClock{}, opts.RenewDeadline, opts.Logger.WithName("fence"))
		if lock, events, err = newFencedLock(cfg, opts.LeaderElectionNamespace, opts.LeaderElectionID, opts.RenewDeadline, f); err != nil {
			return nil, err
		}
		cfg.Wrap(f.wrap)
		mopts.LeaderElectionResourceLockInterface = lock
	}
	mgr, err := manager.New(cfg, mopts)
	if err != nil {
		return nil, fmt.Errorf("unable to create the manager: %w", err)
	}
	if events != nil {
		// Core events on the Lease from the replica's identity, as
		// controller-runtime's own elector records them (and the RBAC in
		// deploy/ grants), now through the fence.
		events.bind(mgr.GetEventRecorderFor(lock.Identity())) //nolint:staticcheck // the Lease's events are core/v1 ones
	}
	if opts.HealthAddr != "" {
		if err := addHealthChecks(mgr); err != nil {
			return nil, err
		}
	}
	return mgr, nil
}

// cacheOptions keeps only the pods sparkcd manages in the pod cache, no
// managedFields in any cache, and, when namespaces is not empty, only
// those namespaces, and only those Namespace objects (namespaceCache).
func cacheOptions(namespaces []string) (cache.Options, error) {
	managed := labels.SelectorFromSet(labels.Set{v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue})
	opts := cache.Options{
		ByObject:         map[client.Object]cache.ByObject{&corev1.Pod{}: {Label: managed}},
		DefaultTransform: cache.TransformStripManagedFields(),
	}
	if byObject, ok, err := namespaceCache(namespaces); err != nil {
		return opts, err
	} else if ok {
		opts.ByObject[&corev1.Namespace{}] = byObject
	}
	if len(namespaces) > 0 {
		opts.DefaultNamespaces = make(map[string]cache.Config, len(namespaces))
		for _, ns := range namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return opts, nil
}

// addHealthChecks answers the liveness and readiness probes once the
// manager serves them.
func addHealthChecks(mgr manager.Manager) error {
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("unable to add the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("unable to add the readiness check: %w", err)
	}
	return nil
}

// positiveOr is v, or d when v is zero or less.
func positiveOr(v, d time.Duration) time.Duration {
	if v <= 0 {
		return d
	}
	return v
}
