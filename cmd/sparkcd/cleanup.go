package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/sparkcd/sparkcd/cronjobs/cleanup"
	"github.com/sparkcd/sparkcd/cronjobs/schedule"
	"github.com/sparkcd/sparkcd/internal/review"
)

// cleanupFlags are the cleanup settings `serve` and `cleanup` share.
type cleanupFlags struct {
	schedule           string
	timeZone           string
	succeededTTL       time.Duration
	failedTTL          time.Duration
	namespaces         []string
	selector           string
	selectorNamespaces []string
	concurrency        int
	qps                float32
}

func (f *cleanupFlags) bind(cmd *cobra.Command) {
	d := cleanup.DefaultOptions()
	fl := cmd.Flags()
	fl.StringVar(&f.schedule, "cleanup-schedule", d.Schedule, "cron schedule of the cleanup passes (empty: no cleanup)")
	fl.StringVar(&f.timeZone, "cleanup-time-zone", "", "time zone of --cleanup-schedule (default UTC)")
	fl.DurationVar(&f.succeededTTL, "succeeded-ttl", d.SucceededTTL, "how long a succeeded driver is kept (a job's spec.timeToLiveSeconds wins)")
	fl.DurationVar(&f.failedTTL, "failed-ttl", d.FailedTTL, "how long a failed driver is kept (a job's spec.timeToLiveSeconds wins)")
	fl.StringSliceVar(&f.namespaces, "cleanup-namespaces", nil, "namespaces whose sparkcd drivers are cleaned up (default: all)")
	fl.StringVar(&f.selector, "cleanup-selector", "", "also clean up the finished driver pods this label selector matches, such as spark-role=driver for spark-submit or Spark Operator drivers (needs --cleanup-selector-namespaces)")
	fl.StringSliceVar(&f.selectorNamespaces, "cleanup-selector-namespaces", nil, "the only namespaces --cleanup-selector applies in")
	fl.IntVar(&f.concurrency, "cleanup-concurrency", d.Concurrency, "deletes in flight at once")
	fl.Float32Var(&f.qps, "cleanup-qps", d.QPS, "requests per second of a cleanup pass")
}

// options turns the flags into CleanupOptions; a value that cannot be read
// is bad input.
func (f *cleanupFlags) options() (cleanup.Options, error) {
	o := cleanup.DefaultOptions()
	o.Schedule, o.TimeZone = f.schedule, f.timeZone
	if f.succeededTTL < 0 || f.failedTTL < 0 {
		return o, inputError(fmt.Errorf("--succeeded-ttl and --failed-ttl must not be negative"))
	}
	o.SucceededTTL, o.FailedTTL = f.succeededTTL, f.failedTTL
	var err error
	o.Namespaces = f.namespaces
	if f.selector != "" {
		if o.Selector, err = labels.Parse(f.selector); err != nil {
			return o, inputError(fmt.Errorf("invalid --cleanup-selector '%s': %w", f.selector, err))
		}
		if len(f.selectorNamespaces) == 0 {
			return o, inputError(fmt.Errorf("--cleanup-selector '%s' needs --cleanup-selector-namespaces: widening the cleanup is a decision per namespace", f.selector))
		}
	}
	o.SelectorNamespaces = f.selectorNamespaces
	o.Concurrency, o.QPS = f.concurrency, f.qps
	if f.schedule != "" {
		if _, err := schedule.Parse(f.schedule, f.timeZone); err != nil {
			return o, inputError(fmt.Errorf("invalid --cleanup-schedule: %w", err))
		}
	}
	return o, nil
}

func newCleanupCommand() *cobra.Command {
	var (
		cluster    clusterFlags
		flags      cleanupFlags
		once       bool
		dryRun     bool
		output     string
		namespaces []string
	)
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Delete finished Spark drivers past their TTL or beyond their job's history limits",
		Long: `cleanup deletes driver pods in phase Succeeded or Failed that finished longer ago
than their TTL (the job's spec.timeToLiveSeconds, else --succeeded-ttl or
--failed-ttl), or that are beyond their job's successfulRunHistoryLimit or
failedRunHistoryLimit, with background propagation so the garbage collector
removes the executors, ConfigMap, Service and Ingress each driver owns. Each
removed run is recorded in its SparkJob's status.history first. Pending and
running pods are never touched.

With --once it runs one pass and exits, for a Kubernetes CronJob; without it,
a pass at every tick of --cleanup-schedule until SIGTERM. --dry-run deletes
nothing and prints what a pass would delete, and why; it implies --once.
-n limits the pass to namespaces (as --cleanup-namespaces). -o json prints
each pass as one JSON object on one line, durations as strings ("1.5s").`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := flagsFromEnv(cmd); err != nil {
				return err
			}
			if err := review.CheckFormat(output, cleanupFormats); err != nil {
				return inputError(err)
			}
			opts, err := flags.options()
			if err != nil {
				return err
			}
			opts.DryRun = dryRun
			once = once || dryRun
			opts.Namespaces = append(opts.Namespaces, namespaces...)
			if !once && opts.Schedule == "" {
				return inputError(fmt.Errorf("--cleanup-schedule is empty: pass --once for a single pass"))
			}
			cfg, err := cluster.restConfig()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			write := reportWriter(out, output)
			if !once {
				opts.OnPass = func(rep cleanup.Report, _ error) { write(rep) }
			}
			c, stop, err := cleanup.NewForConfig(cfg, opts)
			if err != nil {
				return err
			}
			defer stop()
			if !once {
				return c.Start(cmd.Context())
			}
			rep, err := c.RunOnce(cmd.Context())
			write(rep)
			if err != nil {
				return fmt.Errorf("the cleanup pass failed: %w", err)
			}
			return nil
		},
	}
	cluster.bind(cmd, false)
	flags.bind(cmd)
	cmd.Flags().BoolVar(&once, "once", false, "run one pass and exit")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "delete nothing; print what a pass would delete, and why (implies --once)")
	cmd.Flags().StringSliceVarP(&namespaces, "namespace", "n", nil, "namespaces to clean up, as --cleanup-namespaces (default: all)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: "+strings.Join(cleanupFormats, ", "))
	return cmd
}

// cleanupJSON is a pass's report as -o json prints it: the duration as a
// string, the deleted drivers as a list even when empty.
type cleanupJSON struct {
	cleanup.Report
	Duration string `json:"duration"`
}

// reportWriter prints a pass's report as text or as a JSON line.
func reportWriter(out io.Writer, output string) func(cleanup.Report) {
	return func(rep cleanup.Report) {
		if output == "json" {
			_ = json.NewEncoder(out).Encode(jsonReport(rep))
			return
		}
		_, _ = rep.WriteTo(out)
	}
}

func jsonReport(r cleanup.Report) cleanupJSON {
	if r.Deleted == nil {
		r.Deleted = []cleanup.Removal{}
	}
	return cleanupJSON{Report: r, Duration: r.Duration.String()}
}

// cleanupFormats are the output formats of `sparkcd cleanup`.
var cleanupFormats = []string{"text", "json"}
