package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

func newLogsCommand() *cobra.Command {
	var (
		cluster clusterFlags
		runName string
		follow  bool
		tail    int64
	)
	cmd := &cobra.Command{
		Use:   "logs JOB",
		Short: "Print the driver log of a SparkJob's last run, or of --run RUN",
		Long: `logs prints the log of the driver container (spark-kubernetes-driver) of the
SparkJob JOB's last run, or of the run --run names, as kubectl logs would;
-f follows it, --tail prints only the last lines. A driver the cleanup has
already deleted has no log left: logs says so, with the outcome the job's
status.history kept (exit code 1).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := cluster.restConfig()
			if err != nil {
				return err
			}
			c, job, err := cluster.getJob(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			key := client.ObjectKeyFromObject(job)
			run, err := pickRun(job, runName)
			if err != nil {
				return err
			}
			pod := &corev1.Pod{}
			podKey := types.NamespacedName{Namespace: key.Namespace, Name: runid.DriverPodName(run.Name)}
			if err := c.Get(cmd.Context(), podKey, pod); err != nil {
				if apierrors.IsNotFound(err) {
					return findingsError(goneDriver(job, run, podKey.Name))
				}
				return err
			}
			if pod.Spec.NodeName == "" {
				return findingsError(fmt.Errorf("run %s of sparkjob/%s has no log yet: its driver pod %s/%s is %s and not scheduled to a node (see `sparkcd status %s -n %s`)",
					run.Name, job.Name, podKey.Namespace, podKey.Name, orDash(string(pod.Status.Phase)), job.Name, job.Namespace))
			}
			cs, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return err
			}
			opts := &corev1.PodLogOptions{Container: runid.DriverContainerName, Follow: follow}
			if tail >= 0 {
				opts.TailLines = &tail
			}
			stream, err := cs.CoreV1().Pods(key.Namespace).GetLogs(podKey.Name, opts).Stream(cmd.Context())
			if err != nil {
				return fmt.Errorf("unable to read the log of run %s (pod %s/%s): %w", run.Name, podKey.Namespace, podKey.Name, err)
			}
			defer stream.Close()
			_, err = io.Copy(cmd.OutOrStdout(), stream)
			if err != nil && cmd.Context().Err() == nil {
				return fmt.Errorf("reading the log of run %s: %w", run.Name, err)
			}
			return nil
		},
	}
	cluster.bind(cmd, true)
	cmd.Flags().StringVar(&runName, "run", "", "the run whose driver log to print (default: the last run)")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow the log")
	cmd.Flags().Int64Var(&tail, "tail", -1, "print only the last N lines (-1: all)")
	return cmd
}

// pickRun is the run named name, else the job's last run, from the
// status's last run and history.
func pickRun(job *v1alpha1.SparkJob, name string) (v1alpha1.RunStatus, error) {
	var runs []v1alpha1.RunStatus
	if job.Status.LastRun != nil {
		runs = append(runs, *job.Status.LastRun)
	}
	runs = append(runs, job.Status.History...)
	if len(runs) == 0 {
		return v1alpha1.RunStatus{}, findingsError(fmt.Errorf("sparkjob/%s has no run yet (start one with `sparkcd run %s -n %s`)", job.Name, job.Name, job.Namespace))
	}
	if name == "" {
		return runs[0], nil
	}
	names := make([]string, 0, len(runs))
	for _, r := range runs {
		if r.Name == name {
			return r, nil
		}
		names = append(names, r.Name)
	}
	return v1alpha1.RunStatus{}, inputError(fmt.Errorf("sparkjob/%s has no run '%s'; its runs: %s", job.Name, name, strings.Join(names, ", ")))
}

// goneDriver says that the run's driver pod is gone, and what the status
// kept of the run.
func goneDriver(job *v1alpha1.SparkJob, run v1alpha1.RunStatus, pod string) error {
	outcome := orDash(string(run.Phase))
	if run.Reason != "" {
		outcome += " (" + run.Reason + ")"
	}
	if run.CompletionTime != nil {
		outcome += ", finished " + run.CompletionTime.UTC().Format(time.RFC3339)
	}
	if run.Message != "" {
		outcome += ": " + cleanMessage(run.Message)
	}
	return fmt.Errorf("run %s of sparkjob/%s has no log left: its driver pod %s/%s is gone — the cleanup deletes finished drivers past their TTL or history limit (spec.timeToLiveSeconds, --succeeded-ttl, --failed-ttl). The run's outcome, from status.history: %s",
		run.Name, job.Name, job.Namespace, pod, outcome)
}
