package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/sparkcd/sparkcd/policies"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/render"
)

// serveFlags are the settings of `sparkcd serve`.
type serveFlags struct {
	cluster clusterFlags
	log     logFlags

	namespaces              []string
	metricsAddr             string
	healthAddr              string
	leaderElect             bool
	leaderElectionNamespace string
	leaderElectionID        string
	policies                string
	masterURL               string
	qps                     float32
	burst                   int
	concurrency             int
	skipDriverAccessReview  bool
}

func newServeCommand() *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the reconciler: turn SparkJobs into runs and follow them",
		Long: `serve runs sparkcd's loops against the cluster until it receives SIGTERM or
SIGINT: the job loop turns each SparkJob into runs (driver pod, Spark
configuration, executor pod template, headless service) and follows the
driver into the SparkJob's status.

Every flag can also be set with an environment variable SPARKCD_<FLAG>, in
upper case with dashes as underscores (SPARKCD_METRICS_ADDR=:8080); the
command line wins.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := flagsFromEnv(cmd); err != nil {
				return err
			}
			return f.run(cmd)
		},
	}
	f.cluster.bind(cmd, false)
	f.log.bind(cmd)
	fl := cmd.Flags()
	d := reconciler.DefaultManagerOptions()
	fl.StringSliceVar(&f.namespaces, "namespaces", nil, "namespaces to watch and act in, comma separated (default: all)")
	fl.StringVar(&f.metricsAddr, "metrics-addr", ":8080", "address of the Prometheus /metrics endpoint (0 disables it)")
	fl.StringVar(&f.healthAddr, "health-addr", ":8081", "address of the /healthz and /readyz endpoints (empty disables them)")
	fl.BoolVar(&f.leaderElect, "leader-elect", false, "elect a leader on a Lease, so only one of several replicas acts")
	fl.StringVar(&f.leaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader-election Lease (default: $POD_NAMESPACE, else sparkcd-system)")
	fl.StringVar(&f.leaderElectionID, "leader-election-id", d.LeaderElectionID, "name of the leader-election Lease")
	fl.StringVar(&f.policies, "policies", "", "directory of AllocationPolicy files every job is defaulted and judged with")
	fl.StringVar(&f.masterURL, "master-url", render.DefaultMasterURL, "spark.master the drivers use to reach the API server")
	fl.Float32Var(&f.qps, "kube-api-qps", d.QPS, "requests per second to the API server")
	fl.IntVar(&f.burst, "kube-api-burst", d.Burst, "burst of requests to the API server")
	fl.IntVar(&f.concurrency, "concurrency", reconciler.DefaultJobOptions().MaxConcurrentReconciles, "SparkJobs reconciled at once")
	fl.BoolVar(&f.skipDriverAccessReview, "skip-driver-access-review", false, "do not check with SubjectAccessReviews that a driver's service account may create executor pods")
	return cmd
}

func (f *serveFlags) run(cmd *cobra.Command) error {
	log, rlog, err := f.log.logger(cmd)
	if err != nil {
		return err
	}
	mgr, err := f.manager(rlog)
	if err != nil {
		return err
	}
	log.Info("starting sparkcd", "version", version, "namespaces", f.namespaces, "leaderElection", f.leaderElect)
	if err := mgr.Start(cmd.Context()); err != nil && !errors.Is(err, cmd.Context().Err()) {
		return fmt.Errorf("the reconciler stopped: %w", err)
	}
	log.Info("sparkcd stopped")
	return nil
}

// manager builds the controller-runtime manager with every loop added.
func (f *serveFlags) manager(log logr.Logger) (manager.Manager, error) {
	cfg, err := f.cluster.restConfig()
	if err != nil {
		return nil, err
	}
	mopts := reconciler.DefaultManagerOptions()
	mopts.Namespaces = f.namespaces
	mopts.MetricsAddr = f.metricsAddr
	mopts.HealthAddr = f.healthAddr
	mopts.LeaderElection = f.leaderElect
	mopts.LeaderElectionID = f.leaderElectionID
	mopts.LeaderElectionNamespace = f.leaderElectionNamespace
	if mopts.LeaderElectionNamespace == "" {
		mopts.LeaderElectionNamespace = os.Getenv("POD_NAMESPACE")
	}
	if mopts.LeaderElectionNamespace == "" {
		mopts.LeaderElectionNamespace = "sparkcd-system"
	}
	mopts.QPS, mopts.Burst = f.qps, f.burst
	mopts.Logger = log
	mgr, err := reconciler.NewManager(cfg, mopts)
	if err != nil {
		return nil, err
	}
	jopts := reconciler.DefaultJobOptions()
	jopts.Materialize.MasterURL = f.masterURL
	jopts.MaxConcurrentReconciles = f.concurrency
	jopts.SkipDriverAccessReview = f.skipDriverAccessReview
	if f.policies != "" {
		set, err := loadPolicies(f.policies)
		if err != nil {
			return nil, err
		}
		jopts.Admitter = set
	}
	if _, err := reconciler.NewJobReconciler(mgr, jopts); err != nil {
		return nil, err
	}
	return mgr, nil
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
