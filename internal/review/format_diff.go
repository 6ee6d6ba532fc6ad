package review

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// DiffFormats are the output formats of `sparkcd diff`.
var DiffFormats = []string{"text", "json", "markdown"}

// Write writes the diff in the given format.
func (d *DiffReport) Write(w io.Writer, format string) error {
	switch format {
	case "", "text":
		return d.writeText(w)
	case "json":
		return d.writeJSON(w)
	case "markdown":
		return d.writeMarkdown(w)
	default:
		return fmt.Errorf("%w '%s': use one of %s", ErrUnknownFormat, format, strings.Join(DiffFormats, ", "))
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

func (d *DiffReport) writeJSON(w io.Writer) error {
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
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func (d *DiffReport) writeText(w io.Writer) error {
	c := d.counts()
	fmt.Fprintf(w, "sparkcd diff %s\n  from %s\n  to   %s\n", d.Path, d.From, d.To)
	fmt.Fprintf(w, "%d added, %d removed, %d changed, %d unchanged; %d %s introduced, %d fixed\n",
		c.Added, c.Removed, c.Changed, c.Unchanged, c.Introduced, plural(c.Introduced, "finding"), c.Fixed)
	for _, j := range d.Jobs {
		if j.Change == Unchanged {
			continue
		}
		fmt.Fprintf(w, "\n%s %s/%s (%s)\n", strings.ToUpper(string(j.Change)), j.Namespace, j.Name, j.Source)
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

func (d *DiffReport) writeMarkdown(w io.Writer) error {
	c := d.counts()
	fmt.Fprintf(w, "### sparkcd diff: `%s`\n\n", d.Path)
	fmt.Fprintf(w, "`%s` → `%s`\n\n", d.From, d.To)
	fmt.Fprintf(w, "**%d added, %d removed, %d changed**, %d unchanged · %d %s introduced, %d fixed\n",
		c.Added, c.Removed, c.Changed, c.Unchanged, c.Introduced, plural(c.Introduced, "finding"), c.Fixed)
	if c.Added+c.Removed+c.Changed == 0 {
		return nil
	}
	fmt.Fprintln(w, "\n| Job | Namespace | Change | Findings introduced | Findings fixed | Envelope |")
	fmt.Fprintln(w, "|---|---|---|---:|---:|---|")
	for _, j := range d.Jobs {
		if j.Change == Unchanged {
			continue
		}
		fmt.Fprintf(w, "| `%s` | %s | %s | %d | %d | %s |\n", j.Name, j.Namespace, j.Change,
			len(j.Introduced), len(j.Fixed), mdEscape(orDash(envelopeDelta(j.EnvelopeFrom, j.EnvelopeTo))))
	}
	for _, j := range d.Jobs {
		if j.Change == Unchanged {
			continue
		}
		fmt.Fprintf(w, "\n<details><summary><code>%s/%s</code> %s — %s</summary>\n\n", j.Namespace, j.Name, j.Change, mdEscape(j.Source))
		if len(j.Introduced)+len(j.Fixed) > 0 {
			fmt.Fprintln(w, "| | Severity | Rule | Field | Message | Policy |")
			fmt.Fprintln(w, "|---|---|---|---|---|---|")
			for _, f := range j.Introduced {
				fmt.Fprintf(w, "| introduced | %s | `%s` | `%s` | %s | %s |\n", f.Severity, f.Rule, orDash(f.Field), mdEscape(f.Message), orDash(f.Policy))
			}
			for _, f := range j.Fixed {
				fmt.Fprintf(w, "| fixed | %s | `%s` | `%s` | %s | %s |\n", f.Severity, f.Rule, orDash(f.Field), mdEscape(f.Message), orDash(f.Policy))
			}
			fmt.Fprintln(w)
		}
		if j.Diff != "" {
			fmt.Fprintf(w, "```diff\n%s```\n", j.Diff)
		}
		fmt.Fprintln(w, "\n</details>")
	}
	return nil
}
