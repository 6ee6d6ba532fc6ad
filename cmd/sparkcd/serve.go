package main

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/cronjobs/cleanup"
	"github.com/sparkcd/sparkcd/cronjobs/schedule"
	"github.com/sparkcd/sparkcd/policies"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/render/materialize"
	"github.com/sparkcd/sparkcd/ui"
)

// serveFlags are the settings of `sparkcd serve`.
type serveFlags struct {
	cluster clusterFlags
	log     logFlags
	cleanup cleanupFlags
	shard   shardFlags

	namespaces              []string
	metricsAddr             string
	healthAddr              string
	pprofAddr               string
	leaderElect             bool
	leaderElectionNamespace string
	leaderElectionID        string
	policies                string
	clusterPolicies         bool
	masterURL               string
	ingressURLFormat        string
	qps                     float32
	burst                   int
	concurrency             int
	skipDriverAccessReview  bool
	leaseDuration           time.Duration
	renewDeadline           time.Duration
	retryPeriod             time.Duration

	cacheDir                 string
	webhookAddr              string
	uiAddr                   string
	uiAcceptHosts            []string
	sourceInterval           time.Duration
	sourceConcurrency        int
	sourceApplyConcurrency   int
	allowRemoteBases         bool
	insecureSkipTLSVerify    bool
	insecureSkipHostKeyCheck bool

	defaultSourceServiceAccount string
	allowCrossNamespaceTargets  bool
	// allowCrossNamespaceTargetsSet says the flag was given.
	allowCrossNamespaceTargetsSet bool
}

func newServeCommand() *cobra.Command { return newServeCommandWith(&serveFlags{}) }

// newServeCommandWith is `serve`, its flags parsed into f.
func newServeCommandWith(f *serveFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the reconciler: turn SparkJobs into runs and follow them",
		Long: `serve runs sparkcd's loops against the cluster until it receives SIGTERM or
SIGINT: the source loop fetches each JobSource's git repository, renders and
judges its jobs and server-side applies them as SparkJobs (pruning those
removed from git); the job loop turns each SparkJob into runs (driver pod,
Spark configuration, executor pod template, headless service) and follows
the driver into the SparkJob's status, starting scheduled jobs at their cron
ticks; the cleanup deletes finished drivers on its own schedule. With
--leader-elect only the holder of the Lease runs the loops; every replica
serves webhooks, health and metrics. The leader's writes are fenced: once
the start of its last successful renewal of the Lease is
--leader-election-renew-deadline ago (it was paused, or cut off from the
API server), it sends nothing but reads until it renews, and it exits
when another replica holds the Lease. Keep the renew deadline below the
lease duration by more than a request's round trip.

Every flag can also be set with an environment variable SPARKCD_<FLAG>, in
upper case with dashes as underscores (SPARKCD_METRICS_ADDR=:8080); the
command line wins.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.complete(cmd); err != nil {
				return err
			}
			return f.run(cmd)
		},
	}
	f.cluster.bind(cmd, false)
	f.log.bind(cmd)
	f.cleanup.bind(cmd)
	f.shard.bind(cmd)
	fl := cmd.Flags()
	d := reconciler.DefaultManagerOptions()
	fl.StringSliceVar(&f.namespaces, "namespaces", nil, "namespaces to watch and act in, comma separated (default: all)")
	fl.StringVar(&f.metricsAddr, "metrics-addr", ":8080", "address of the Prometheus /metrics endpoint (0 disables it)")
	fl.StringVar(&f.healthAddr, "health-addr", ":8081", "address of the /healthz and /readyz endpoints (empty disables them)")
	fl.StringVar(&f.pprofAddr, "pprof-addr", "", "address of Go's profiles, /debug/pprof/ (empty, the default, disables them; they show the process's internals: keep them on loopback)")
	fl.BoolVar(&f.leaderElect, "leader-elect", false, "elect a leader on a Lease, so only one of several replicas acts")
	fl.StringVar(&f.leaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader-election Lease (default: $POD_NAMESPACE, else sparkcd-system)")
	fl.StringVar(&f.leaderElectionID, "leader-election-id", d.LeaderElectionID, "name of the leader-election Lease")
	fl.StringVar(&f.policies, "policies", "", "directory of AllocationPolicy files every job is defaulted and judged with")
	fl.BoolVar(&f.clusterPolicies, "cluster-policies", true, "also judge jobs with the cluster's AllocationPolicy objects, followed live (a --policies file wins a name)")
	fl.StringVar(&f.masterURL, "master-url", materialize.DefaultMasterURL, "spark.master the drivers use to reach the API server")
	fl.StringVar(&f.ingressURLFormat, "ingress-url-format", "", "like the Spark Operator's flag: a UI Ingress at this host[/path] ({{$appName}}, {{$appNamespace}}, {{$appId}} filled in) for every run whose job sets no ingressHost or ingressURLFormat")
	fl.Float32Var(&f.qps, "kube-api-qps", d.QPS, "requests per second to the API server")
	fl.IntVar(&f.burst, "kube-api-burst", d.Burst, "burst of requests to the API server")
	fl.IntVar(&f.concurrency, "concurrency", reconciler.DefaultJobOptions().MaxConcurrentReconciles, "SparkJobs reconciled at once")
	fl.BoolVar(&f.skipDriverAccessReview, "skip-driver-access-review", false, "do not check with SubjectAccessReviews that a driver's service account may create executor pods")
	fl.DurationVar(&f.leaseDuration, "leader-election-lease-duration", 15*time.Second, "how long a stopped leader keeps the Lease before another replica takes over")
	fl.DurationVar(&f.renewDeadline, "leader-election-renew-deadline", 10*time.Second, "how long the leader tries to renew the Lease before it stops acting, and writes after the start of its last renewal")
	fl.DurationVar(&f.retryPeriod, "leader-election-retry-period", 2*time.Second, "how often replicas try to take or renew the Lease")

	sd := reconciler.DefaultSourceOptions()
	fl.StringVar(&f.cacheDir, "cache-dir", defaultCacheDir(), "directory of the git caches, one per JobSource")
	fl.StringVar(&f.webhookAddr, "webhook-addr", ":9292", "address of the webhook receiver, POST /hooks/<namespace>/<jobsource>, on every replica (empty disables it)")
	fl.StringVar(&f.uiAddr, "ui-addr", "", "address of the read-only web view (sparkcd ui) with sparkcd's own service account, on every replica (empty, the default, disables it; put authentication in front: docs/ui.md)")
	fl.StringSliceVar(&f.uiAcceptHosts, "ui-accept-hosts", ui.DefaultAcceptHosts, "regular expressions of the Host headers the web view serves (add your proxy's host name)")
	fl.DurationVar(&f.sourceInterval, "source-interval", sd.DefaultInterval, "fetch interval of a JobSource that sets none")
	fl.IntVar(&f.sourceConcurrency, "source-concurrency", sd.MaxConcurrentReconciles, "JobSources reconciled at once")
	fl.IntVar(&f.sourceApplyConcurrency, "source-apply-concurrency", sd.ApplyConcurrency, "SparkJobs of one JobSource applied at once (within --kube-api-qps)")
	fl.BoolVar(&f.allowRemoteBases, "allow-remote-bases", false, "let kustomizations in jobs repositories fetch remote bases")
	fl.BoolVar(&f.insecureSkipTLSVerify, "insecure-skip-tls-verify", false, "INSECURE: accept any TLS certificate from git servers")
	fl.BoolVar(&f.insecureSkipHostKeyCheck, "insecure-skip-host-key-check", false, "INSECURE: accept any SSH host key from git servers")
	fl.StringVar(&f.defaultSourceServiceAccount, "default-source-service-account", "", "service account, in each JobSource's namespace, that a source without spec.serviceAccountName (and the runs of SparkJobs no source applied) writes as: nothing is then written with sparkcd's own identity")
	fl.BoolVar(&f.allowCrossNamespaceTargets, "allow-cross-namespace-targets", true, "let a JobSource apply jobs and objects outside its own namespace (default true, but false when --default-source-service-account is set)")
	return cmd
}

func (f *serveFlags) run(cmd *cobra.Command) error {
	if err := materialize.CheckIngressURLFormat(f.ingressURLFormat); err != nil {
		return inputError(err)
	}
	log, rlog, err := f.log.logger(cmd)
	if err != nil {
		return err
	}
	mgr, err := f.manager(rlog, log)
	if err != nil {
		return err
	}
	log.Info("starting sparkcd", "version", version, "namespaces", f.namespaces, "leaderElection", f.leaderElect, "watchLabelSelector", f.shard.parsed)
	if err := mgr.Start(cmd.Context()); err != nil && !errors.Is(err, cmd.Context().Err()) {
		return fmt.Errorf("the reconciler stopped: %w", err)
	}
	log.Info("sparkcd stopped")
	return nil
}

// manager builds the controller-runtime manager with every loop added.
func (f *serveFlags) manager(log logr.Logger, slogger *slog.Logger) (manager.Manager, error) {
	cfg, err := f.cluster.restConfig()
	if err != nil {
		return nil, err
	}
	mopts := reconciler.DefaultManagerOptions()
	mopts.Namespaces = f.namespaces
	mopts.MetricsAddr = f.metricsAddr
	mopts.HealthAddr, mopts.PprofAddr = f.healthAddr, f.pprofAddr
	mopts.LeaderElection = f.leaderElect
	mopts.LeaderElectionID = f.leaderElectionID
	mopts.LeaderElectionNamespace = f.leaderElectionNamespace
	mopts.LeaderElectionNamespace = cmp.Or(mopts.LeaderElectionNamespace, os.Getenv("POD_NAMESPACE"), "sparkcd-system")
	mopts.QPS, mopts.Burst = f.qps, f.burst
	mopts.LeaseDuration, mopts.RenewDeadline, mopts.RetryPeriod = f.leaseDuration, f.renewDeadline, f.retryPeriod
	mopts.Logger, mopts.WatchSelector = log, f.shard.parsed
	mgr, err := reconciler.NewManager(cfg, mopts)
	if err != nil {
		return nil, err
	}
	jopts := reconciler.DefaultJobOptions()
	jopts.Materialize.MasterURL = f.masterURL
	jopts.Materialize.IngressURLFormat = f.ingressURLFormat
	jopts.MaxConcurrentReconciles = f.concurrency
	jopts.SkipDriverAccessReview = f.skipDriverAccessReview
	jopts.Scheduler = schedule.NewScheduler()
	sopts := f.sourceOptions(slogger)
	jopts.Identity = f.identity()
	store, err := f.policyStore()
	if err != nil {
		return nil, err
	}
	// Both loops judge a job with the same policies: the source loop
	// before it applies it, the job loop before each run.
	jopts.Policies, sopts.Policies = store, store
	if f.clusterPolicies {
		if _, err := reconciler.NewPolicyReconciler(mgr, store); err != nil {
			return nil, err
		}
	}
	if _, err := reconciler.NewJobReconciler(mgr, jopts); err != nil {
		return nil, err
	}
	sources, err := reconciler.NewSourceReconciler(mgr, sopts)
	if err != nil {
		return nil, err
	}
	if f.cleanup.schedule != "" {
		copts, err := f.cleanup.options()
		if err != nil {
			return nil, err
		}
		copts.HistoryLimit = jopts.HistoryLimit
		f.shard.cleanup(&copts)
		if _, err := cleanup.NewForManager(mgr, copts); err != nil {
			return nil, err
		}
	}
	if f.webhookAddr != "" {
		h := reconciler.NewWebhookHandler(mgr.GetClient(), reconciler.WebhookOptions{
			Reader:  mgr.GetAPIReader(),
			Secrets: sources,
			Logger:  log.WithName("webhook"),
		})
		if err := mgr.Add(&httpServer{name: "webhook", addr: f.webhookAddr, handler: h, log: slogger}); err != nil {
			return nil, fmt.Errorf("unable to add the webhook receiver: %w", err)
		}
	}
	if err := f.addUI(mgr, slogger); err != nil {
		return nil, err
	}
	return mgr, nil
}

// defaultCacheDir is the user's cache directory's sparkcd, else one under
// the temporary directory.
func defaultCacheDir() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "sparkcd")
	}
	return filepath.Join(os.TempDir(), "sparkcd-cache")
}

// policyStore is the policy set in force: the --policies files, read
// once, and with --cluster-policies the cluster's AllocationPolicies,
// followed by the policy loop.
func (f *serveFlags) policyStore() (*policies.Store, error) {
	var seed []v1alpha1.AllocationPolicy
	if f.policies != "" {
		list, err := policies.Load(f.policies)
		if err != nil {
			return nil, inputError(err)
		}
		seed = list
	}
	var opts []policies.StoreOption
	if f.clusterPolicies {
		opts = append(opts, policies.WithClusterPolicies())
	}
	store, err := policies.NewStore(seed, opts...)
	if err != nil {
		return nil, inputError(err)
	}
	return store, nil
}

// loadPolicies reads a directory of AllocationPolicy files; one that cannot
// be read is bad input.
func loadPolicies(dir string) (*policies.Set, error) {
	list, err := policies.Load(dir)
	if err != nil {
		return nil, inputError(err)
	}
	set, err := policies.NewSet(list)
	if err != nil {
		return nil, inputError(err)
	}
	return set, nil
}

// complete reads the flags' environment variables and checks what the
// flags cannot check alone.
func (f *serveFlags) complete(cmd *cobra.Command) error {
	if err := flagsFromEnv(cmd); err != nil {
		return err
	}
	f.allowCrossNamespaceTargetsSet = cmd.Flags().Changed("allow-cross-namespace-targets")
	if err := f.shard.complete(&f.leaderElectionID, cmd.Flags().Changed("leader-election-id")); err != nil {
		return err
	}
	if n := f.defaultSourceServiceAccount; n != "" {
		if errs := validation.IsDNS1123Subdomain(n); len(errs) > 0 {
			return inputError(fmt.Errorf("--default-source-service-account '%s' is not a service account name: %s", n, strings.Join(errs, "; ")))
		}
	}
	return nil
}

// sourceOptions are the source loop's options the flags set.
func (f *serveFlags) sourceOptions(slogger *slog.Logger) reconciler.SourceOptions {
	sopts := reconciler.DefaultSourceOptions()
	sopts.CacheDir = f.cacheDir
	sopts.DefaultInterval = f.sourceInterval
	sopts.MaxConcurrentReconciles = f.sourceConcurrency
	sopts.ApplyConcurrency = f.sourceApplyConcurrency
	sopts.AllowRemoteBases = f.allowRemoteBases
	sopts.InsecureSkipTLSVerify = f.insecureSkipTLSVerify
	sopts.InsecureSkipHostKeyCheck = f.insecureSkipHostKeyCheck
	sopts.Logger, sopts.WatchSelector = slogger, f.shard.parsed
	sopts.Identity = f.identity()
	return sopts
}

// identity is the per-source identity settings: cross-namespace targets
// are allowed unless --allow-cross-namespace-targets says otherwise, or,
// when it is not given, a default service account makes the install a
// multi-tenant one (Flux's --no-cross-namespace-refs, on by default here
// only where it breaks no existing install).
func (f *serveFlags) identity() reconciler.IdentityOptions {
	allow := f.allowCrossNamespaceTargets
	if !f.allowCrossNamespaceTargetsSet && f.defaultSourceServiceAccount != "" {
		allow = false
	}
	return reconciler.IdentityOptions{
		DefaultServiceAccount:   f.defaultSourceServiceAccount,
		NoCrossNamespaceTargets: !allow,
	}
}
