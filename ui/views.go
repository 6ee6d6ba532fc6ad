package ui

import (
	"net/url"
	"strings"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// gridRuns is how many runs a job's grid shows, newest on the right.
const gridRuns = 30

type overviewPage struct {
	Title     string
	Namespace string
	Sources   []sourceView
	Jobs      []jobView
}

type sourceView struct {
	Namespace, Name, URL, Revision string
	Verdict                        verdict
	LastApply                      string
	Findings                       []findingView
}

type findingView struct {
	Job, File, Severity, Rule, Field, Message string
}

// verdict is a Ready condition as the page shows it.
type verdict struct {
	Status, Reason, Message, Class string
}

type jobView struct {
	Namespace, Name string
	Schedule        string
	Next            string
	Suspended       bool
	Revision        string
	Verdict         verdict
	Runs            []runCell
}

// runCell is one run in a job's grid.
type runCell struct {
	Name, Phase, Class, Href, Title string
}

func readyVerdict(conds []metav1.Condition, clean func(string) string) verdict {
	c := apimeta.FindStatusCondition(conds, "Ready")
	if c == nil {
		return verdict{Status: "Unknown", Reason: "NotReconciled", Class: "unknown"}
	}
	class := map[metav1.ConditionStatus]string{metav1.ConditionTrue: "ok", metav1.ConditionFalse: "bad"}[c.Status]
	if class == "" {
		class = "unknown"
	}
	return verdict{Status: string(c.Status), Reason: c.Reason, Message: clean(c.Message), Class: class}
}

func newSourceView(s *v1alpha1.JobSource, clean func(string) string) sourceView {
	v := sourceView{Namespace: s.Namespace, Name: s.Name, URL: s.Spec.URL, Revision: s.Status.LastAppliedRevision,
		Verdict: readyVerdict(s.Status.Conditions, clean)}
	if c := apimeta.FindStatusCondition(s.Status.Conditions, "Ready"); c != nil {
		v.LastApply = formatTime(&c.LastTransitionTime)
	}
	for _, j := range s.Status.Jobs {
		for _, f := range j.Findings {
			v.Findings = append(v.Findings, findingView{Job: j.Namespace + "/" + j.Name, File: j.Source,
				Severity: string(f.Severity), Rule: f.Rule, Field: f.Field, Message: clean(f.Message)})
		}
	}
	return v
}

func newJobView(j *v1alpha1.SparkJob, clean func(string) string) jobView {
	v := jobView{Namespace: j.Namespace, Name: j.Name, Schedule: j.Spec.Schedule, Revision: j.Status.LastAppliedRevision,
		Suspended: j.Spec.Suspend != nil && *j.Spec.Suspend, Verdict: readyVerdict(j.Status.Conditions, clean)}
	if j.Spec.TimeZone != "" && v.Schedule != "" {
		v.Schedule += " (" + j.Spec.TimeZone + ")"
	}
	if j.Status.NextScheduleTime != nil && !v.Suspended {
		v.Next = formatTime(j.Status.NextScheduleTime)
	}
	runs := runsOf(j)
	if len(runs) > gridRuns {
		runs = runs[:gridRuns]
	}
	for i := len(runs) - 1; i >= 0; i-- {
		v.Runs = append(v.Runs, newRunCell(j, runs[i]))
	}
	return v
}

func newRunCell(j *v1alpha1.SparkJob, r v1alpha1.RunStatus) runCell {
	phase := string(r.Phase)
	if phase == "" {
		phase = string(v1alpha1.RunUnknown)
	}
	title := r.Name + ": " + phase
	if r.Reason != "" {
		title += " (" + r.Reason + ")"
	}
	if r.StartTime != nil {
		title += ", started " + formatTime(r.StartTime)
	}
	return runCell{Name: r.Name, Phase: phase, Class: "phase-" + strings.ToLower(phase), Href: runHref(j.Namespace, j.Name, r.Name), Title: title}
}

func runHref(ns, job, run string) string {
	return "/runs/" + url.PathEscape(ns) + "/" + url.PathEscape(job) + "/" + url.PathEscape(run)
}

// runsOf is the job's last run, then its history (newest first), each
// run once.
func runsOf(j *v1alpha1.SparkJob) []v1alpha1.RunStatus {
	var runs []v1alpha1.RunStatus
	seen := map[string]bool{}
	add := func(r v1alpha1.RunStatus) {
		if r.Name != "" && !seen[r.Name] {
			seen[r.Name] = true
			runs = append(runs, r)
		}
	}
	if j.Status.LastRun != nil {
		add(*j.Status.LastRun)
	}
	for _, r := range j.Status.History {
		add(r)
	}
	return runs
}

func formatTime(t *metav1.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}
