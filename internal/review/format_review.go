package review

import (
	"cmp"
	"fmt"
	"io"
	"strings"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// writeGitHub writes GitHub Actions workflow commands, one annotation per
// finding, pointing at the line of the offending field in its source file.
func (r *Report) writeGitHub(w io.Writer) error {
	for _, j := range r.Jobs {
		for _, f := range j.Findings {
			file, line := locate(r.Root, &j, f.Field)
			fmt.Fprintln(w, ghAnnotation(f, j.Namespace, j.Name, file, line))
		}
		if len(j.Defaults) > 0 {
			file, line := locate(r.Root, &j, "")
			fmt.Fprintln(w, ghDefaults(j, file, line))
		}
	}
	r.writeObjectsGitHub(w)
	_, err := fmt.Fprintln(w, r.summaryLine())
	return err
}

// ghAnnotation is the workflow command of one finding of a job.
func ghAnnotation(f v1alpha1.Finding, namespace, name, file string, line int) string {
	level := "error"
	if f.Severity == v1alpha1.SeverityWarning {
		level = "warning"
	}
	title := fmt.Sprintf("%s (%s/%s)", f.Rule, namespace, name)
	msg := f.Message
	if f.Field != "" {
		msg = f.Field + ": " + msg
	}
	if f.Policy != "" {
		msg += fmt.Sprintf(" [policy %s]", f.Policy)
	}
	return fmt.Sprintf("::%s file=%s,line=%d,title=%s::%s", level, ghProperty(file), line, ghProperty(title), ghData(msg))
}

// ghDefaults is one notice per job listing the defaults the policies
// filled in: not a finding, so never a failed check.
func ghDefaults(j JobReport, file string, line int) string {
	lines := make([]string, 0, len(j.Defaults))
	for _, d := range j.Defaults {
		lines = append(lines, defaultText(d))
	}
	title := fmt.Sprintf("policy defaults (%s/%s)", j.Namespace, j.Name)
	return fmt.Sprintf("::notice file=%s,line=%d,title=%s::%s", ghProperty(file), line, ghProperty(title), ghData(strings.Join(lines, "\n")))
}

// ghData escapes a workflow command's message as the runner expects.
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// ghProperty escapes a workflow command's property value.
func ghProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// writeMarkdown writes a pull-request comment: a summary table of jobs,
// findings and envelopes, then the findings of each job.
func (r *Report) writeMarkdown(w io.Writer) error {
	s := r.Summary()
	fmt.Fprintf(w, "### sparkcd check: `%s`\n\n", r.Path)
	objects := ""
	if s.Objects > 0 {
		objects = fmt.Sprintf(", %d supporting %s", s.Objects, plural(s.Objects, "object"))
	}
	fmt.Fprintf(w, "%d %s%s, **%d %s**, %d %s\n\n",
		s.Jobs, plural(s.Jobs, "job"), objects, s.Errors, plural(s.Errors, "error"), s.Warnings, plural(s.Warnings, "warning"))
	fmt.Fprintln(w, "| | Job | Namespace | Errors | Warnings | Driver | Executor | Peak executors | Peak job |")
	fmt.Fprintln(w, "|---|---|---|---:|---:|---|---|---:|---|")
	for _, j := range r.Jobs {
		icon := "✅"
		switch {
		case j.Errors() > 0:
			icon = "❌"
		case j.Warnings() > 0:
			icon = "⚠️"
		}
		d, e, p, pk := "–", "–", "–", "–"
		if j.Envelope != nil {
			d, e, p, pk = envelopeCells(j.Envelope)
		}
		fmt.Fprintf(w, "| %s | `%s` | %s | %d | %d | %s | %s | %s | %s |\n",
			icon, j.Name, j.Namespace, j.Errors(), j.Warnings(), d, e, p, pk)
	}
	for _, j := range r.Jobs {
		if len(j.Findings) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n<details open><summary><code>%s/%s</code> — %s</summary>\n\n", j.Namespace, j.Name, mdEscape(j.Source))
		fmt.Fprintln(w, "| Severity | Rule | Field | Message | Policy |")
		fmt.Fprintln(w, "|---|---|---|---|---|")
		for _, f := range j.Findings {
			fmt.Fprintf(w, "| %s | `%s` | `%s` | %s | %s |\n",
				f.Severity, f.Rule, orDash(f.Field), mdEscape(f.Message), orDash(f.Policy))
		}
		fmt.Fprintln(w, "\n</details>")
	}
	for _, j := range r.Jobs {
		if len(j.Defaults) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n<details><summary><code>%s/%s</code> — %d policy %s</summary>\n\n", j.Namespace, j.Name, len(j.Defaults), plural(len(j.Defaults), "default"))
		fmt.Fprintln(w, "| Field | Before | After | Policy |")
		fmt.Fprintln(w, "|---|---|---|---|")
		for _, d := range j.Defaults {
			fmt.Fprintf(w, "| `%s` | %s | %s | %s |\n", d.Field, mdEscape(cmp.Or(d.Before, "(unset)")), mdEscape(cmp.Or(d.After, "(unset)")), d.Policy)
		}
		fmt.Fprintln(w, "\n</details>")
	}
	r.writeObjectsMarkdown(w)
	return nil
}

// mdEscape keeps a message inside its table cell.
func mdEscape(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}
