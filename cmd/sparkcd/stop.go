package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/runid"
)

func newStopCommand() *cobra.Command {
	var (
		cluster clusterFlags
		waitFor time.Duration
	)
	cmd := &cobra.Command{
		Use:   "stop JOB [RUN]",
		Short: "Stop a run of a SparkJob: delete its driver, and with it its executors",
		Long: `stop ends the run RUN of the SparkJob JOB, or every active run of JOB when RUN
is not given, as argo stop ends a workflow: it names the run in the job's
sparkcd.io/stop-runs annotation and deletes the run's driver pod with
background propagation, so the garbage collector deletes what the driver owns
(Spark's executor pods, the run's ConfigMap, Service and Ingress). The job
loop records the run as Failed with reason Stopped, which no restart policy
retries; the next schedule tick or manual run still starts.

A run that has already ended is refused (exit code 1). With --wait it waits
until the job's status records the end. Exit codes: 0 stopped, 1 nothing to
stop, 2 bad input or no record within --wait.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, job, err := cluster.getJob(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			key := client.ObjectKeyFromObject(job)
			runs, err := runsToStop(job, args[1:])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, run := range runs {
				if err := reconciler.StopRun(cmd.Context(), c, key, run); err != nil {
					return err
				}
				fmt.Fprintf(out, "sparkjob/%s: run %s stopped (driver pod %s deleted)\n", key.Name, run, runid.DriverPodName(run))
			}
			if waitFor <= 0 {
				return nil
			}
			return waitStopped(cmd.Context(), cmd, c, key, runs, waitFor)
		},
	}
	cluster.bind(cmd, true)
	cmd.Flags().DurationVar(&waitFor, "wait", 0, "wait this long for the job loop to record the end of the run (0: do not wait)")
	return cmd
}

// runsToStop is the run named (which must be active), or every active run
// of the job.
func runsToStop(job *v1alpha1.SparkJob, named []string) ([]string, error) {
	active := job.Status.ActiveRuns
	if len(named) == 0 {
		if len(active) == 0 {
			last := "it has no run yet"
			if r := job.Status.LastRun; r != nil {
				last = fmt.Sprintf("its last run %s is %s", r.Name, phaseOf(r))
			}
			return nil, findingsError(fmt.Errorf("sparkjob/%s has no active run to stop: %s", job.Name, last))
		}
		return slices.Clone(active), nil
	}
	name := named[0]
	if slices.Contains(active, name) {
		return []string{name}, nil
	}
	if r := findRun(job, name); r != nil && runid.Finished(r) {
		return nil, findingsError(fmt.Errorf("run %s of sparkjob/%s has already ended (%s): nothing to stop", name, job.Name, phaseOf(r)))
	}
	return nil, inputError(fmt.Errorf("sparkjob/%s has no active run '%s' (active: %s)", job.Name, name, orDash(joinOr(active))))
}

// phaseOf is "Succeeded" or "Failed (Reason)", with the end time.
func phaseOf(r *v1alpha1.RunStatus) string {
	s := string(r.Phase)
	if r.Reason != "" {
		s += " (" + r.Reason + ")"
	}
	if r.CompletionTime != nil {
		s += " at " + r.CompletionTime.UTC().Format(time.RFC3339)
	}
	return s
}

func joinOr(names []string) string { return strings.Join(names, ", ") }

// waitStopped waits until the job loop has recorded the end of every run.
func waitStopped(ctx context.Context, cmd *cobra.Command, c client.Client, key types.NamespacedName, runs []string, waitFor time.Duration) error {
	job := &v1alpha1.SparkJob{}
	err := poll(ctx, waitFor, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, key, job); err != nil {
			return false, err
		}
		for _, name := range runs {
			if r := findRun(job, name); r == nil || !runid.Finished(r) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return waitError(err, fmt.Sprintf("sparkjob/%s: the job loop did not record the end within %s (is `sparkcd serve` running?)", key.Name, waitFor))
	}
	for _, name := range runs {
		fmt.Fprintf(cmd.OutOrStdout(), "sparkjob/%s: run %s ended: %s\n", key.Name, name, phaseOf(findRun(job, name)))
	}
	return nil
}
