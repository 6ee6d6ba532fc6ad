package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// describe prints one object in detail, as kubectl describe would.
func describe(w io.Writer, v statusView, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i := range v.sources {
		describeSource(tw, &v.sources[i], now)
		fmt.Fprintln(tw)
	}
	for i := range v.jobs {
		describeJob(tw, &v.jobs[i], now)
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

func describeSource(w io.Writer, s *v1alpha1.JobSource, now time.Time) {
	st := &s.Status
	fmt.Fprintf(w, "JobSource:\t%s/%s\n", s.Namespace, s.Name)
	fmt.Fprintf(w, "URL:\t%s\n", s.Spec.URL)
	fmt.Fprintf(w, "Path:\t%s\n", orDash(s.Spec.Path))
	fmt.Fprintf(w, "Suspended:\t%t\n", s.Spec.Suspend)
	fmt.Fprintf(w, "Applied revision:\t%s\n", orDash(st.LastAppliedRevision))
	fmt.Fprintf(w, "Attempted revision:\t%s\n", orDash(st.LastAttemptedRevision))
	fmt.Fprintf(w, "Last handled reconcile:\t%s\n", orDash(st.LastHandledReconcileAt))
	fmt.Fprintf(w, "Inventory:\t%d SparkJobs, %d supporting objects\n", len(st.Inventory), len(st.SupportingInventory))
	fmt.Fprintf(w, "Age:\t%s\n", age(s.CreationTimestamp, now))
	describeConditions(w, st.Conditions, now)
	if len(st.Jobs) == 0 {
		fmt.Fprintln(w, "Findings:\tnone")
		return
	}
	fmt.Fprintln(w, "Findings:")
	for _, j := range st.Jobs {
		fmt.Fprintf(w, "  %s/%s (%s):\n", j.Namespace, j.Name, orDash(j.Source))
		for _, f := range j.Findings {
			fmt.Fprintf(w, "    %s %s %s: %s\n", f.Severity, f.Rule, orDash(f.Field), cleanMessage(f.Message))
		}
	}
}

func describeJob(w io.Writer, j *v1alpha1.SparkJob, now time.Time) {
	st := &j.Status
	fmt.Fprintf(w, "SparkJob:\t%s/%s\n", j.Namespace, j.Name)
	fmt.Fprintf(w, "Suspended:\t%t\n", j.Spec.Suspend != nil && *j.Spec.Suspend)
	fmt.Fprintf(w, "Schedule:\t%s\n", orDash(strings.TrimSpace(j.Spec.Schedule+" "+j.Spec.TimeZone)))
	fmt.Fprintf(w, "Next schedule:\t%s\n", nextSchedule(j))
	fmt.Fprintf(w, "Next attempt:\t%s\n", nextAttempt(st.NextAttempt))
	fmt.Fprintf(w, "Revision:\t%s\n", orDash(st.LastAppliedRevision))
	fmt.Fprintf(w, "Active runs:\t%s\n", orDash(strings.Join(st.ActiveRuns, ", ")))
	fmt.Fprintf(w, "Age:\t%s\n", age(j.CreationTimestamp, now))
	describeConditions(w, st.Conditions, now)
	runs := st.History
	if r := st.LastRun; r != nil && (len(runs) == 0 || runs[0].Name != r.Name) {
		runs = append([]v1alpha1.RunStatus{*r}, runs...)
	}
	if len(runs) == 0 {
		fmt.Fprintln(w, "Runs:\tnone")
		return
	}
	fmt.Fprintln(w, "Runs:")
	fmt.Fprintln(w, "  RUN\tTRIGGER\tPHASE\tATTEMPT\tSTARTED\tFINISHED\tMESSAGE")
	for _, r := range runs {
		phase := orDash(string(r.Phase))
		if r.Reason != "" {
			phase += " (" + r.Reason + ")"
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.Name, orDash(string(r.Trigger)), phase, max(r.Attempt, 1),
			ago(r.StartTime, now), ago(r.CompletionTime, now), orDash(runMessage(r)))
	}
	describeInsight(w, j, now)
}

// describeConditions prints every condition with its full message; a
// message of several "; "-separated parts (a build's errors) gets a line
// per part.
func describeConditions(w io.Writer, conds []metav1.Condition, now time.Time) {
	if len(conds) == 0 {
		fmt.Fprintln(w, "Conditions:\tnone")
		return
	}
	fmt.Fprintln(w, "Conditions:")
	for _, c := range conds {
		fmt.Fprintf(w, "  %s=%s\t%s\t%s ago\n", c.Type, c.Status, c.Reason, age(c.LastTransitionTime, now))
		for _, part := range strings.Split(cleanMessage(c.Message), "; ") {
			if part != "" {
				fmt.Fprintf(w, "    %s\n", part)
			}
		}
	}
}

func ago(t *metav1.Time, now time.Time) string {
	if t == nil {
		return "-"
	}
	return age(*t, now) + " ago"
}

// runMessage is a run's message, after how long it waited in its Kueue
// queue once admitted (docs/queueing-kueue.md).
func runMessage(r v1alpha1.RunStatus) string {
	msg := cleanMessage(r.Message)
	if r.QueuedSeconds == nil {
		return msg
	}
	queued := fmt.Sprintf("queued %s in '%s'", time.Duration(*r.QueuedSeconds)*time.Second, r.Queue)
	if msg == "" {
		return queued
	}
	return queued + "; " + msg
}
