package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/reconciler"
)

func newRunCommand() *cobra.Command {
	var (
		cluster clusterFlags
		waitFor time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run JOB",
		Short: "Start a run of a SparkJob now",
		Long: `run asks sparkcd for a manual run of the SparkJob JOB by setting its
sparkcd.io/run-requested-at annotation; the job loop starts one run per new
value, under the job's concurrencyPolicy. With --wait it waits until the
loop has answered the request and prints the run's name.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cluster.client()
			if err != nil {
				return err
			}
			key := types.NamespacedName{Namespace: cluster.targetNamespace(), Name: args[0]}
			at := time.Now()
			if err := reconciler.RequestRun(cmd.Context(), c, key, at); err != nil {
				if apierrors.IsNotFound(err) {
					return inputError(fmt.Errorf("no SparkJob '%s'", key))
				}
				return err
			}
			value := at.UTC().Format(time.RFC3339Nano)
			out := cmd.OutOrStdout()
			if waitFor <= 0 {
				fmt.Fprintf(out, "sparkjob/%s: run requested at %s\n", key.Name, value)
				return nil
			}
			job := &v1alpha1.SparkJob{}
			err = wait.PollUntilContextTimeout(cmd.Context(), 250*time.Millisecond, waitFor, true, func(ctx context.Context) (bool, error) {
				if err := c.Get(ctx, key, job); err != nil {
					return false, err
				}
				return job.Status.LastHandledRunRequest == value, nil
			})
			if err != nil {
				if errors.Is(err, context.DeadlineExceeded) {
					return fmt.Errorf("sparkjob/%s: the run requested at %s did not start within %s (see `sparkcd status -n %s`)", key.Name, value, waitFor, key.Namespace)
				}
				return err
			}
			run := "-"
			if job.Status.LastRun != nil {
				run = job.Status.LastRun.Name
			}
			fmt.Fprintf(out, "sparkjob/%s: run %s started\n", key.Name, run)
			return nil
		},
	}
	cluster.bind(cmd, true)
	cmd.Flags().DurationVar(&waitFor, "wait", 0, "wait this long for the run to start (0: do not wait)")
	return cmd
}
