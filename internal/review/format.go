package review

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/policies"
)

// Formats are the output formats of `sparkcd check` and `sparkcd diff`;
// ObjectFormats those of `sparkcd render`.
var (
	Formats       = []string{"text", "json", "yaml", "github", "markdown", "wide", "name"}
	ObjectFormats = []string{"yaml", "json", "name"}
)

// CheckFormat returns the one error every command gives for an output
// format it does not know.
func CheckFormat(format string, known []string) error {
	if format == "" || slices.Contains(known, format) {
		return nil
	}
	return fmt.Errorf("%w '%s': use one of %s", ErrUnknownFormat, format, strings.Join(known, ", "))
}

// Write writes the report in the given format.
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case "", "text":
		return r.writeText(w, false)
	case "wide":
		return r.writeText(w, true)
	case "name":
		return r.writeNames(w)
	case "json", "yaml":
		return r.writeJSON(w, format)
	case "github":
		return r.writeGitHub(w)
	case "markdown":
		return r.writeMarkdown(w)
	default:
		return CheckFormat(format, Formats)
	}
}

// encode writes v as indented JSON, or as YAML with the same keys.
func encode(w io.Writer, v any, format string) error {
	if format == "yaml" {
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// jsonFinding spells every key out, so the schema is the same whether or not
// a policy is behind the finding.
type jsonFinding struct {
	Severity v1alpha1.Severity `json:"severity"`
	Rule     string            `json:"rule"`
	Field    string            `json:"field"`
	Message  string            `json:"message"`
	Policy   string            `json:"policy"`
}

type jsonJob struct {
	Name      string             `json:"name"`
	Namespace string             `json:"namespace"`
	Source    string             `json:"source"`
	Findings  []jsonFinding      `json:"findings"`
	Envelope  *policies.Envelope `json:"envelope,omitempty"`
	// Defaults are the values the policies' defaults filled in.
	Defaults []policies.AppliedDefault `json:"defaults,omitempty"`
}

// jsonReport is the document `check -o json` prints. Error is set, and Jobs
// empty, when the input could not be read or built (exit code 2).
type jsonReport struct {
	Jobs    []jsonJob    `json:"jobs"`
	Objects []jsonObject `json:"objects,omitempty"`
	Summary Summary      `json:"summary"`
	Error   string       `json:"error,omitempty"`
}

// WriteInputError reports input that could not be read or built in the
// given format: JSON output stays a report document (with its error), so a
// CI step that parses it never reads an empty file; the other formats print
// nothing, and the caller prints the error.
func WriteInputError(w io.Writer, format string, err error) error {
	if format != "json" && format != "yaml" {
		return nil
	}
	return encode(w, jsonReport{Jobs: []jsonJob{}, Error: err.Error()}, format)
}

func (r *Report) writeJSON(w io.Writer, format string) error {
	out := jsonReport{Jobs: []jsonJob{}, Summary: r.Summary()}
	for _, j := range r.Jobs {
		jj := jsonJob{Name: j.Name, Namespace: j.Namespace, Source: j.Source, Findings: []jsonFinding{}, Envelope: j.Envelope, Defaults: j.Defaults}
		for _, f := range j.Findings {
			jj.Findings = append(jj.Findings, jsonFinding(f))
		}
		out.Jobs = append(out.Jobs, jj)
	}
	out.Objects = r.jsonObjects()
	return encode(w, out, format)
}

// writeText writes the report for a person; wide adds to each job's line
// the kind it was written as, the unit built, the run it would start and
// how many policy defaults it took.
func (r *Report) writeText(w io.Writer, wide bool) error {
	for _, j := range r.Jobs {
		status := "ok"
		switch {
		case j.Errors() > 0:
			status = "FAIL"
		case j.Warnings() > 0:
			status = "warn"
		}
		if j.Name == "" {
			fmt.Fprintf(w, "%-4s %s  (did not build)\n", status, j.Source)
		} else {
			fmt.Fprintf(w, "%-4s %s/%s  (%s)%s\n", status, j.Namespace, j.Name, j.Source, j.wideColumns(wide))
		}
		for _, f := range j.Findings {
			policy := ""
			if f.Policy != "" {
				policy = fmt.Sprintf(" [policy %s]", f.Policy)
			}
			fmt.Fprintf(w, "     %-7s %s: %s: %s%s\n", f.Severity, f.Rule, orDash(f.Field), f.Message, policy)
		}
		for _, d := range j.Defaults {
			fmt.Fprintf(w, "     default %s\n", defaultText(d))
		}
		if j.Envelope != nil {
			d, e, p, pk := envelopeCells(j.Envelope)
			fmt.Fprintf(w, "     envelope: driver %s; executor %s; peak %s executors, %s%s\n", d, e, p, pk, j.Envelope.Gang("; "))
		}
	}
	r.writeObjectsText(w)
	_, err := fmt.Fprintln(w, r.summaryLine())
	return err
}

// summaryLine is "N jobs[, M supporting objects], E errors, W warnings".
func (r *Report) summaryLine() string {
	s := r.Summary()
	objects := ""
	if s.Objects > 0 {
		objects = fmt.Sprintf(", %d supporting %s", s.Objects, plural(s.Objects, "object"))
	}
	return fmt.Sprintf("%d %s%s, %d %s, %d %s",
		s.Jobs, plural(s.Jobs, "job"), objects, s.Errors, plural(s.Errors, "error"), s.Warnings, plural(s.Warnings, "warning"))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// defaultText is "FIELD: BEFORE → AFTER [policy NAME]", BEFORE "(unset)"
// when the job left the field unset.
func defaultText(d policies.AppliedDefault) string {
	before := d.Before
	if before == "" {
		before = "(unset)"
	}
	after := d.After
	if after == "" {
		after = "(unset)"
	}
	return fmt.Sprintf("%s: %s → %s [policy %s]", d.Field, before, after, d.Policy)
}
