package review

import (
	"fmt"
	"io"
	"strings"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// Write writes the diff in the given format.
func (d *DiffReport) Write(w io.Writer, format string) error {
	switch format {
	case "", "text":
		return d.writeText(w, false)
	case "wide":
		return d.writeText(w, true)
	case "name":
		return d.writeNames(w)
	case "json", "yaml":
		return d.writeJSON(w, format)
	case "github":
		return d.writeGitHub(w)
	case "markdown":
		return d.writeMarkdown(w)
	default:
		return CheckFormat(format, Formats)
	}
}

type diffCounts struct {
	Added, Removed, Changed, Unchanged int
	Introduced, Fixed                  int
}

func (d *DiffReport) counts() diffCounts {
	var c diffCounts
	for _, j := range d.Jobs {
		switch j.Change {
		case Added:
			c.Added++
		case Removed:
			c.Removed++
		case Changed:
			c.Changed++
		default:
			c.Unchanged++
		}
		c.Introduced += len(j.Introduced)
		c.Fixed += len(j.Fixed)
	}
	return c
}

func (d *DiffReport) writeJSON(w io.Writer, format string) error {
	c := d.counts()
	out := struct {
		*DiffReport
		Summary map[string]int `json:"summary"`
	}{d, map[string]int{
		"added": c.Added, "removed": c.Removed, "changed": c.Changed, "unchanged": c.Unchanged,
		"findingsIntroduced": c.Introduced, "findingsFixed": c.Fixed,
	}}
	if out.Jobs == nil {
		out.Jobs = []JobChange{}
	}
	return encode(w, out, format)
}

// writeText writes the diff for a person; wide lists the unchanged jobs
// too, and each job's run at both sides.
func (d *DiffReport) writeText(w io.Writer, wide bool) error {
	c := d.counts()
	fmt.Fprintf(w, "sparkcd diff %s\n  from %s\n  to   %s\n", d.Path, d.From, d.To)
	fmt.Fprintf(w, "%d added, %d removed, %d changed, %d unchanged; %d %s introduced, %d fixed\n",
		c.Added, c.Removed, c.Changed, c.Unchanged, c.Introduced, plural(c.Introduced, "finding"), c.Fixed)
	for _, j := range d.Jobs {
		if j.Change == Unchanged && !wide {
			continue
		}
		fmt.Fprintf(w, "\n%s %s/%s (%s)%s\n", strings.ToUpper(string(j.Change)), j.Namespace, j.Name, j.Source, j.wideColumns(wide))
		if delta := envelopeDelta(j.EnvelopeFrom, j.EnvelopeTo); delta != "" {
			fmt.Fprintf(w, "  envelope: %s\n", delta)
		}
		if j.Change == Changed && j.SpecHashFrom != j.SpecHashTo {
			fmt.Fprintf(w, "  spec hash %.8s → %.8s: a new run starts when this is applied\n", j.SpecHashFrom, j.SpecHashTo)
		}
		writeFindingLines(w, "  + ", j.Introduced)
		writeFindingLines(w, "  - ", j.Fixed)
		if j.Diff != "" {
			fmt.Fprintf(w, "%s", j.Diff)
		}
	}
	return nil
}

func writeFindingLines(w io.Writer, prefix string, fs []v1alpha1.Finding) {
	for _, f := range fs {
		policy := ""
		if f.Policy != "" {
			policy = fmt.Sprintf(" [policy %s]", f.Policy)
		}
		fmt.Fprintf(w, "%s%s %s: %s: %s%s\n", prefix, f.Severity, f.Rule, orDash(f.Field), f.Message, policy)
	}
}
