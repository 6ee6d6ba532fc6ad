package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/reconciler"
)

func newRunCommand() *cobra.Command {
	var (
		cluster   clusterFlags
		waitFor   time.Duration
		waitStart time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run JOB",
		Short: "Start a run of a SparkJob now",
		Long: `run asks sparkcd for a manual run of the SparkJob JOB by setting its
sparkcd.io/run-requested-at annotation; the job loop starts one run per new
value, under the job's concurrencyPolicy. A suspended job is refused at once.

With --wait it waits until the run ends, as spark-submit and kubectl wait do:
exit code 0 when it succeeded, 1 when it failed (with its reason and the
sparkcd logs command to read its driver), 2 when --wait passed first.
--wait-start waits only until the loop has started the run, and prints its
name.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, job, err := cluster.getJob(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			key := client.ObjectKeyFromObject(job)
			if job.Spec.Suspend != nil && *job.Spec.Suspend {
				return findingsError(fmt.Errorf("sparkjob/%s is suspended (spec.suspend): no run starts until `sparkcd resume sparkjob %s -n %s`", key.Name, key.Name, key.Namespace))
			}
			at := time.Now()
			if err := reconciler.RequestRun(cmd.Context(), c, key, at); err != nil {
				return err
			}
			value := at.UTC().Format(time.RFC3339Nano)
			out := cmd.OutOrStdout()
			timeout := max(waitFor, waitStart)
			if timeout <= 0 {
				fmt.Fprintf(out, "sparkjob/%s: run requested at %s\n", key.Name, value)
				return nil
			}
			deadline := time.Now().Add(timeout)
			name, err := waitRunStart(cmd.Context(), c, key, value, timeout)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "sparkjob/%s: run %s started\n", key.Name, name)
			if waitFor <= 0 {
				return nil
			}
			return waitRunEnd(cmd.Context(), out, c, key, name, time.Until(deadline), waitFor)
		},
	}
	cluster.bind(cmd, true)
	cmd.Flags().DurationVar(&waitFor, "wait", 0, "wait this long for the run to end; exit 0 succeeded, 1 failed, 2 timed out (0: do not wait)")
	cmd.Flags().DurationVar(&waitStart, "wait-start", 0, "wait this long for the run to start, not to end (0: do not wait)")
	return cmd
}

// waitRunStart waits until the job loop has answered the request value,
// and returns the run that answered it.
func waitRunStart(ctx context.Context, c client.Client, key types.NamespacedName, value string, timeout time.Duration) (string, error) {
	job := &v1alpha1.SparkJob{}
	err := poll(ctx, timeout, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, key, job); err != nil {
			return false, err
		}
		if job.Spec.Suspend != nil && *job.Spec.Suspend {
			return false, findingsError(fmt.Errorf("sparkjob/%s was suspended while the run was requested: no run starts", key.Name))
		}
		return job.Status.LastHandledRunRequest == value, nil
	})
	if err != nil {
		_, reason, msg := readyOf(job.Status.Conditions)
		return "", waitError(err, fmt.Sprintf("sparkjob/%s: the run requested at %s did not start within %s; Ready reason %s: %s (see `sparkcd status %s -n %s`)",
			key.Name, value, timeout, reason, orDash(cleanMessage(msg)), key.Name, key.Namespace))
	}
	if job.Status.LastRun == nil {
		return "-", nil
	}
	return job.Status.LastRun.Name, nil
}

// waitRunEnd waits until the run is Succeeded (nil) or Failed (exit 1).
func waitRunEnd(ctx context.Context, out io.Writer, c client.Client, key types.NamespacedName, name string, left, waitFor time.Duration) error {
	var run *v1alpha1.RunStatus
	err := poll(ctx, max(left, time.Millisecond), func(ctx context.Context) (bool, error) {
		job := &v1alpha1.SparkJob{}
		if err := c.Get(ctx, key, job); err != nil {
			return false, err
		}
		run = findRun(job, name)
		return run != nil && (run.Phase == v1alpha1.RunSucceeded || run.Phase == v1alpha1.RunFailed), nil
	})
	if err != nil {
		phase := "-"
		if run != nil {
			phase = string(run.Phase)
		}
		return waitError(err, fmt.Sprintf("sparkjob/%s: run %s did not end within %s (phase %s); follow it with `sparkcd logs %s -n %s --run %s -f`",
			key.Name, name, waitFor, phase, key.Name, key.Namespace, name))
	}
	if run.Phase == v1alpha1.RunSucceeded {
		fmt.Fprintf(out, "sparkjob/%s: run %s succeeded\n", key.Name, name)
		return nil
	}
	why := orDash(run.Reason)
	if run.Message != "" {
		why += ": " + cleanMessage(run.Message)
	}
	return findingsError(fmt.Errorf("sparkjob/%s: run %s failed: %s; read its driver log with `sparkcd logs %s -n %s --run %s --tail 100`",
		key.Name, name, why, key.Name, key.Namespace, name))
}

// findRun is the run named name in the job's last run or history.
func findRun(job *v1alpha1.SparkJob, name string) *v1alpha1.RunStatus {
	if r := job.Status.LastRun; r != nil && r.Name == name {
		return r
	}
	for i := range job.Status.History {
		if job.Status.History[i].Name == name {
			return &job.Status.History[i]
		}
	}
	return nil
}
