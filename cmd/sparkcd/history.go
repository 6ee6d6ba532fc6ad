package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/review"
)

var historyFormats = []string{"text", "json", "yaml"}

func newHistoryCommand() *cobra.Command {
	var (
		cluster clusterFlags
		output  string
	)
	cmd := &cobra.Command{
		Use:   "history JOB",
		Short: "Show a SparkJob's last runs: phase, start, duration, peak executors, reserved core-hours",
		Long: `history lists the runs the SparkJob JOB's status keeps (its last run and
status.history, newest first) with their phase, start, duration, peak
executor count and the core-hours and GiB-hours their driver and executors
reserved (requests x lifetime, see docs/run-insight.md). -o json or yaml
prints the runs in full, each with its executor timeline.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := review.CheckFormat(output, historyFormats); err != nil {
				return inputError(err)
			}
			_, job, err := cluster.getJob(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return writeHistory(cmd.OutOrStdout(), job, output, time.Now())
		},
	}
	cluster.bind(cmd, true)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: "+strings.Join(historyFormats, ", "))
	return cmd
}

// jobRuns are a job's runs, newest first: its last run, then its history.
func jobRuns(job *v1alpha1.SparkJob) []v1alpha1.RunStatus {
	runs := job.Status.History
	if r := job.Status.LastRun; r != nil && (len(runs) == 0 || runs[0].Name != r.Name) {
		runs = append([]v1alpha1.RunStatus{*r}, runs...)
	}
	return runs
}

// runHistory is what history -o json|yaml prints.
type runHistory struct {
	Namespace string               `json:"namespace"`
	Job       string               `json:"job"`
	Runs      []v1alpha1.RunStatus `json:"runs"`
}

// writeHistory prints a job's runs as a table, or in full as json or yaml.
func writeHistory(w io.Writer, job *v1alpha1.SparkJob, output string, now time.Time) error {
	runs := jobRuns(job)
	switch output {
	case "json", "yaml":
		h := runHistory{Namespace: job.Namespace, Job: job.Name, Runs: runs}
		if h.Runs == nil {
			h.Runs = []v1alpha1.RunStatus{}
		}
		b, err := json.MarshalIndent(h, "", "  ")
		if err != nil {
			return err
		}
		if output == "yaml" {
			if b, err = yaml.JSONToYAML(b); err != nil {
				return err
			}
		} else {
			b = append(b, '\n')
		}
		_, err = w.Write(b)
		return err
	}
	if len(runs) == 0 {
		_, err := fmt.Fprintf(w, "sparkjob/%s has no run yet\n", job.Name)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tTRIGGER\tPHASE\tSTARTED\tDURATION\tPEAK EXECUTORS\tCORE-HOURS\tGIB-HOURS")
	for _, r := range runs {
		phase := orDash(string(r.Phase))
		if r.Reason != "" {
			phase += " (" + r.Reason + ")"
		}
		started := "-"
		if r.StartTime != nil {
			started = r.StartTime.UTC().Format(time.RFC3339)
		}
		peak, cores, mem := "-", "-", "-"
		if in := r.Insight; in != nil {
			peak = fmt.Sprint(in.PeakExecutors)
			cores, mem = fmt.Sprintf("%.3f", in.CoreSeconds()/3600), fmt.Sprintf("%.3f", in.GiBSeconds()/3600)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, orDash(string(r.Trigger)), phase, started, runDuration(&r, now), peak, cores, mem)
	}
	return tw.Flush()
}

// runDuration is a run's duration: to its completion, or until now while
// it is active.
func runDuration(r *v1alpha1.RunStatus, now time.Time) string {
	if r.StartTime == nil {
		return "-"
	}
	end := now
	if r.CompletionTime != nil {
		end = r.CompletionTime.Time
	}
	return end.Sub(r.StartTime.Time).Truncate(time.Second).String()
}

// describeInsight prints, in status JOB, what the last run's record says
// of its executors and what it reserved.
func describeInsight(w io.Writer, j *v1alpha1.SparkJob, now time.Time) {
	r := j.Status.LastRun
	if r == nil || r.Insight == nil {
		return
	}
	in := r.Insight
	first := "no executor yet"
	if in.FirstExecutorSeconds != nil {
		first = fmt.Sprintf("first after %s", time.Duration(*in.FirstExecutorSeconds)*time.Second)
	}
	fmt.Fprintf(w, "Last run:\t%s, %s\n", r.Name, runDuration(r, now))
	fmt.Fprintf(w, "  Executors:\tpeak %d, %s, %d changes (sparkcd history %s -o yaml)\n", in.PeakExecutors, first, in.Timeline.Len(), j.Name)
	fmt.Fprintf(w, "  Reserved cpu:\t%.3f core-hours (driver %.0f, executors %.0f core-seconds)\n", in.CoreSeconds()/3600, in.Driver.CoreSeconds(), in.Executors.CoreSeconds())
	fmt.Fprintf(w, "  Reserved memory:\t%.3f GiB-hours (driver %.0f, executors %.0f GiB-seconds)\n", in.GiBSeconds()/3600, in.Driver.GiBSeconds(), in.Executors.GiBSeconds())
	if in.ObservedTime != nil && r.CompletionTime == nil {
		fmt.Fprintf(w, "  As of:\t%s (the last change of its executors)\n", in.ObservedTime.UTC().Format(time.RFC3339))
	}
}
