package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

func newStatusCommand() *cobra.Command {
	var (
		cluster       clusterFlags
		allNamespaces bool
		output        string
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show JobSources and SparkJobs: conditions, revisions, last runs, next ticks",
		Long: `status lists the JobSources and SparkJobs of a namespace (or of all, with -A)
as kubectl get would, with their Ready condition and its reason, the applied
revision, the last run, its phase and attempt number, the restart policy's
next attempt, and the next schedule tick.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return inputError(fmt.Errorf("invalid -o '%s': want text or json", output))
			}
			c, err := cluster.client()
			if err != nil {
				return err
			}
			var opts []client.ListOption
			if !allNamespaces {
				opts = append(opts, client.InNamespace(cluster.targetNamespace()))
			}
			sources := &v1alpha1.JobSourceList{}
			if err := c.List(cmd.Context(), sources, opts...); err != nil {
				return fmt.Errorf("unable to list JobSources: %w", err)
			}
			jobs := &v1alpha1.SparkJobList{}
			if err := c.List(cmd.Context(), jobs, opts...); err != nil {
				return fmt.Errorf("unable to list SparkJobs: %w", err)
			}
			if output == "json" {
				return writeStatusJSON(cmd.OutOrStdout(), sources.Items, jobs.Items)
			}
			return writeStatusText(cmd.OutOrStdout(), sources.Items, jobs.Items, time.Now())
		},
	}
	cluster.bind(cmd, true)
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "every namespace")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// writeStatusText prints two tables, kubectl style, in namespace and name
// order.
func writeStatusText(w io.Writer, sources []v1alpha1.JobSource, jobs []v1alpha1.SparkJob, now time.Time) error {
	sort.Slice(sources, func(i, j int) bool { return key(&sources[i]) < key(&sources[j]) })
	sort.Slice(jobs, func(i, j int) bool { return key(&jobs[i]) < key(&jobs[j]) })
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(sources) > 0 {
		fmt.Fprintln(tw, "JOBSOURCE\tREADY\tREASON\tREVISION\tJOBS\tAGE\tMESSAGE")
		for i := range sources {
			s := &sources[i]
			ready, reason, msg := readyOf(s.Status.Conditions)
			fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.Namespace, s.Name, ready, reason,
				orDash(s.Status.LastAppliedRevision), len(s.Status.Inventory), age(s.CreationTimestamp, now), oneLine(msg))
		}
		fmt.Fprintln(tw)
	}
	if len(jobs) == 0 {
		fmt.Fprintln(tw, "no SparkJobs")
		return tw.Flush()
	}
	fmt.Fprintln(tw, "SPARKJOB\tREADY\tREASON\tLAST RUN\tPHASE\tATTEMPT\tEXECUTORS\tACTIVE\tNEXT ATTEMPT\tNEXT SCHEDULE\tREVISION\tAGE")
	for i := range jobs {
		j := &jobs[i]
		ready, reason, _ := readyOf(j.Status.Conditions)
		run, phase, attempt, executors := "-", "-", "-", "-"
		if r := j.Status.LastRun; r != nil {
			run, phase, attempt, executors = r.Name, string(r.Phase), fmt.Sprint(max(r.Attempt, 1)), fmt.Sprint(r.Executors)
			if r.Reason != "" {
				phase += " (" + r.Reason + ")"
			}
		}
		next := "-"
		if t := j.Status.NextScheduleTime; t != nil {
			next = t.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", j.Namespace, j.Name, ready, reason,
			run, phase, attempt, executors, len(j.Status.ActiveRuns), nextAttempt(j.Status.NextAttempt), next,
			orDash(j.Status.LastAppliedRevision), age(j.CreationTimestamp, now))
	}
	return tw.Flush()
}

// writeStatusJSON prints {"jobSources":[…],"sparkJobs":[…]} with the
// objects' metadata names and statuses.
func writeStatusJSON(w io.Writer, sources []v1alpha1.JobSource, jobs []v1alpha1.SparkJob) error {
	type entry struct {
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
		Status    any    `json:"status"`
	}
	doc := struct {
		JobSources []entry `json:"jobSources"`
		SparkJobs  []entry `json:"sparkJobs"`
	}{JobSources: []entry{}, SparkJobs: []entry{}}
	for i := range sources {
		doc.JobSources = append(doc.JobSources, entry{sources[i].Namespace, sources[i].Name, sources[i].Status})
	}
	for i := range jobs {
		doc.SparkJobs = append(doc.SparkJobs, entry{jobs[i].Namespace, jobs[i].Name, jobs[i].Status})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// nextAttempt shows the restart policy's next attempt: its number and
// time, and the refused creates it follows.
func nextAttempt(a *v1alpha1.NextAttempt) string {
	if a == nil {
		return "-"
	}
	s := fmt.Sprintf("%d at %s", a.Attempt, a.Time.UTC().Format(time.RFC3339))
	if a.SubmissionFailures > 0 {
		s += fmt.Sprintf(" (%d refused)", a.SubmissionFailures)
	}
	return s
}

func key(o client.Object) string { return o.GetNamespace() + "/" + o.GetName() }

// readyOf returns the Ready condition's status, reason and message, or
// "Unknown" when it is not set yet.
func readyOf(conds []metav1.Condition) (string, string, string) {
	c := apimeta.FindStatusCondition(conds, meta.ReadyCondition)
	if c == nil {
		return "Unknown", "-", ""
	}
	return string(c.Status), c.Reason, c.Message
}

func age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
