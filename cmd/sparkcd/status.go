package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/message"
	"github.com/sparkcd/sparkcd/internal/review"
)

func newStatusCommand() *cobra.Command {
	var f statusFlags
	cmd := &cobra.Command{
		Use:   "status [NAME | sparkjob/NAME | jobsource/NAME]",
		Short: "Show JobSources and SparkJobs: conditions, revisions, last runs, next ticks",
		Long: `status lists the JobSources and SparkJobs of a namespace (or of all, with -A)
as kubectl get would, with their Ready condition, its reason and its message
(shortened to the terminal in text; full with -o wide, json or yaml), the
applied revision, the last run, its phase and attempt number, the restart
policy's next attempt, and the next schedule tick. A JobSource's rejected
jobs are listed below it with their file and first error.

With NAME it describes one object, as kubectl describe would: conditions with
their messages, the last runs, the next schedule, findings and inventory.
-l selects by label; -w prints again on every change until interrupted.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := review.CheckFormat(f.output, statusFormats); err != nil {
				return inputError(err)
			}
			f.output = cmp.Or(f.output, "text")
			if len(args) == 1 {
				f.name = args[0]
			}
			return runStatus(cmd, &f)
		},
	}
	f.cluster.bind(cmd, true)
	cmd.Flags().BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, "every namespace")
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "output format: "+strings.Join(statusFormats, ", "))
	cmd.Flags().StringVarP(&f.selector, "selector", "l", "", "label selector, such as team=etl")
	cmd.Flags().BoolVarP(&f.watch, "watch", "w", false, "print again on every change, until interrupted")
	return cmd
}

// writeStatusText prints two tables, kubectl style, in namespace and name
// order, messages shortened to 60 characters.
func writeStatusText(w io.Writer, sources []v1alpha1.JobSource, jobs []v1alpha1.SparkJob, now time.Time) error {
	return writeStatusTable(w, sources, jobs, now, 60)
}

// writeStatusTable prints the tables with messages shortened to msgWidth
// characters (0: in full), and under each JobSource its rejected jobs.
func writeStatusTable(w io.Writer, sources []v1alpha1.JobSource, jobs []v1alpha1.SparkJob, now time.Time, msgWidth int) error {
	sort.Slice(sources, func(i, j int) bool { return key(&sources[i]) < key(&sources[j]) })
	sort.Slice(jobs, func(i, j int) bool { return key(&jobs[i]) < key(&jobs[j]) })
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(sources) > 0 {
		fmt.Fprintln(tw, "JOBSOURCE\tREADY\tREASON\tREVISION\tJOBS\tAGE\tMESSAGE")
		for i := range sources {
			s := &sources[i]
			ready, reason, msg := readyOf(s.Status.Conditions)
			fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.Namespace, s.Name, ready, reason,
				orDash(s.Status.LastAppliedRevision), len(s.Status.Inventory), age(s.CreationTimestamp, now), shorten(strings.Replace(cleanMessage(msg), "(see status.jobs)", "(listed below)", 1), msgWidth))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		writeRejected(w, sources, msgWidth)
		fmt.Fprintln(w)
	}
	if len(jobs) == 0 {
		fmt.Fprintln(tw, "no SparkJobs")
		return tw.Flush()
	}
	fmt.Fprintln(tw, "SPARKJOB\tREADY\tREASON\tLAST RUN\tPHASE\tATTEMPT\tEXECUTORS\tACTIVE\tNEXT ATTEMPT\tNEXT SCHEDULE\tREVISION\tAGE\tMESSAGE")
	for i := range jobs {
		j := &jobs[i]
		ready, reason, msg := readyOf(j.Status.Conditions)
		run, phase, attempt, executors := "-", "-", "-", "-"
		if r := j.Status.LastRun; r != nil {
			run, phase, attempt, executors = r.Name, string(r.Phase), fmt.Sprint(max(r.Attempt, 1)), fmt.Sprint(r.Executors)
			if r.Reason != "" {
				phase += " (" + r.Reason + ")"
			}
		}
		fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", j.Namespace, j.Name, ready, reason,
			run, phase, attempt, executors, len(j.Status.ActiveRuns), nextAttempt(j.Status.NextAttempt), nextSchedule(j),
			orDash(j.Status.LastAppliedRevision), age(j.CreationTimestamp, now), orDash(shorten(cleanMessage(msg), msgWidth)))
	}
	return tw.Flush()
}

// writeRejected lists, below the JobSource table, each source's rejected
// jobs: the job, its file and its first error.
func writeRejected(w io.Writer, sources []v1alpha1.JobSource, msgWidth int) {
	for i := range sources {
		s := &sources[i]
		for _, j := range s.Status.Jobs {
			first, errs := firstError(j.Findings)
			if errs == 0 {
				continue
			}
			more := ""
			if errs > 1 {
				more = fmt.Sprintf(" (+%d more errors)", errs-1)
			}
			fmt.Fprintf(w, "jobsource/%s/%s rejected %s/%s (%s): %s%s\n", s.Namespace, s.Name, j.Namespace, j.Name,
				orDash(j.Source), shorten(cleanMessage(first), msgWidth), more)
		}
	}
}

// firstError is the message of the first error finding, with its field,
// and the number of errors.
func firstError(fs []v1alpha1.Finding) (string, int) {
	first, n := "", 0
	for _, f := range fs {
		if f.Severity != v1alpha1.SeverityError {
			continue
		}
		if n == 0 {
			first = f.Message
			if f.Field != "" {
				first = f.Field + ": " + first
			}
		}
		n++
	}
	return first, n
}

// nextSchedule is the next tick, or "-" while the job is suspended (no run
// starts then).
func nextSchedule(j *v1alpha1.SparkJob) string {
	if j.Spec.Suspend != nil && *j.Spec.Suspend {
		return "- (suspended)"
	}
	if t := j.Status.NextScheduleTime; t != nil {
		return t.UTC().Format(time.RFC3339)
	}
	return "-"
}

// writeStatusDoc prints {"jobSources":[…],"sparkJobs":[…]} with the
// objects' metadata names and statuses, as JSON (indented) or YAML.
func writeStatusDoc(w io.Writer, sources []v1alpha1.JobSource, jobs []v1alpha1.SparkJob, format string) error {
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
	if format == "yaml" {
		b, err := yaml.Marshal(doc)
		if err != nil {
			return err
		}
		_, err = w.Write(append([]byte("---\n"), b...))
		return err
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

// checkoutPath matches the source loop's checkout directory in a message
// (<cache-dir>/<ns>/<name>/<uid>/checkouts/<commit>/): internal, and the
// same for every file of the message.
var checkoutPath = regexp.MustCompile(`[^\s'"(]*/checkouts/[0-9a-f]{40,64}/`)

// cleanMessage is msg without the cache paths, on one line.
func cleanMessage(msg string) string { return oneLine(checkoutPath.ReplaceAllString(msg, "")) }

// shorten cuts s to n characters (n 0: s in full) at a clause or word
// end, brackets and quotes kept closed, marked "…" (message.Shorten).
func shorten(s string, n int) string { return message.Shorten(s, n) }
