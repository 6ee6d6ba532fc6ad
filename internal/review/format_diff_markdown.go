package review

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// DefaultMaxBytes keeps `diff -o markdown` under the 65,536 characters
// GitHub accepts in a pull-request comment, with room for a workflow's own
// words around it.
const DefaultMaxBytes = 65000

// CommentMarker opens every markdown diff, so a workflow finds (and
// updates) its earlier comment instead of adding one per push.
const CommentMarker = "<!-- sparkcd diff -->"

// writeMarkdown writes a pull-request comment: the counts first, then one
// table row and one collapsed <details> block per changed job, the jobs
// that introduce errors first. Past MaxBytes the rows and blocks that do
// not fit are left out, never the counts, and a last line says how many
// jobs were.
func (d *DiffReport) writeMarkdown(w io.Writer) error {
	c := d.counts()
	var head bytes.Buffer
	fmt.Fprintf(&head, "%s\n### sparkcd diff: `%s`\n\n", CommentMarker, d.Path)
	fmt.Fprintf(&head, "`%s` → `%s`\n\n", d.From, d.To)
	fmt.Fprintf(&head, "**%d added, %d removed, %d changed**, %d unchanged · **%d %s introduced** (%d %s), %d fixed\n",
		c.Added, c.Removed, c.Changed, c.Unchanged, c.Introduced, plural(c.Introduced, "finding"),
		d.IntroducedErrors(), plural(d.IntroducedErrors(), "error"), c.Fixed)
	jobs := d.changedJobs()
	if len(jobs) == 0 {
		_, err := w.Write(head.Bytes())
		return err
	}
	budget := d.MaxBytes
	if budget <= 0 {
		budget = DefaultMaxBytes
	}
	// The trailer is at most this long; it is reserved up front.
	budget -= head.Len() + 200
	var rows, blocks bytes.Buffer
	rows.WriteString("\n| Job | Namespace | Change | Findings introduced | Findings fixed | Envelope |\n|---|---|---|---:|---:|---|\n")
	shown := 0
	for _, j := range jobs {
		row := fmt.Sprintf("| `%s` | %s | %s | %d | %d | %s |\n", j.Name, j.Namespace, j.Change,
			len(j.Introduced), len(j.Fixed), mdEscape(orDash(envelopeDelta(j.EnvelopeFrom, j.EnvelopeTo))))
		block := detailsBlock(j)
		if rows.Len()+blocks.Len()+len(row)+len(block) > budget {
			break
		}
		rows.WriteString(row)
		blocks.WriteString(block)
		shown++
	}
	out := head.String()
	if shown > 0 {
		out += rows.String() + blocks.String()
	}
	if left := len(jobs) - shown; left > 0 {
		out += fmt.Sprintf("\n**%d of %d changed %s left out** of the details to keep this comment under %d bytes: run `sparkcd diff` on `%s` locally to see them all.\n",
			left, len(jobs), plural(len(jobs), "job"), d.maxBytes(), d.Path)
	}
	_, err := io.WriteString(w, out)
	return err
}

func (d *DiffReport) maxBytes() int {
	if d.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return d.MaxBytes
}

// changedJobs are the jobs that changed, those that introduce errors
// first, then warnings, then the rest, each group in name order.
func (d *DiffReport) changedJobs() []JobChange {
	var out []JobChange
	for _, j := range d.Jobs {
		if j.Change != Unchanged {
			out = append(out, j)
		}
	}
	rank := func(j JobChange) int {
		switch {
		case countSeverity(j.Introduced, v1alpha1.SeverityError) > 0:
			return 0
		case len(j.Introduced) > 0:
			return 1
		}
		return 2
	}
	sort.SliceStable(out, func(a, b int) bool { return rank(out[a]) < rank(out[b]) })
	return out
}

func countSeverity(fs []v1alpha1.Finding, s v1alpha1.Severity) int {
	n := 0
	for _, f := range fs {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// detailsBlock is a job's collapsed details: its findings and its diff.
func detailsBlock(j JobChange) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n<details><summary><code>%s/%s</code> %s — %s</summary>\n\n", j.Namespace, j.Name, j.Change, mdEscape(j.Source))
	if len(j.Introduced)+len(j.Fixed) > 0 {
		b.WriteString("| | Severity | Rule | Field | Message | Policy |\n|---|---|---|---|---|---|\n")
		for _, f := range j.Introduced {
			fmt.Fprintf(&b, "| introduced | %s | `%s` | `%s` | %s | %s |\n", f.Severity, f.Rule, orDash(f.Field), mdEscape(f.Message), orDash(f.Policy))
		}
		for _, f := range j.Fixed {
			fmt.Fprintf(&b, "| fixed | %s | `%s` | `%s` | %s | %s |\n", f.Severity, f.Rule, orDash(f.Field), mdEscape(f.Message), orDash(f.Policy))
		}
		b.WriteString("\n")
	}
	if j.Diff != "" {
		fmt.Fprintf(&b, "```diff\n%s```\n", j.Diff)
	}
	b.WriteString("\n</details>\n")
	return b.String()
}

// writeGitHub writes one GitHub Actions annotation per finding the change
// introduces, at the line of the field in the file the job comes from at
// the new revision, then the counts.
func (d *DiffReport) writeGitHub(w io.Writer) error {
	origins := map[string]*JobReport{}
	if d.ToReport != nil {
		origins = indexJobs(d.ToReport)
	}
	for _, j := range d.Jobs {
		for _, f := range j.Introduced {
			file, line := j.Source, 1
			if jr := origins[j.Namespace+"/"+j.Name]; jr != nil {
				file, line = locate(d.ToReport.Root, jr, f.Field)
			}
			fmt.Fprintln(w, ghAnnotation(f, j.Namespace, j.Name, file, line))
		}
	}
	c := d.counts()
	_, err := fmt.Fprintf(w, "%d added, %d removed, %d changed, %d unchanged; %d %s introduced, %d fixed\n",
		c.Added, c.Removed, c.Changed, c.Unchanged, c.Introduced, plural(c.Introduced, "finding"), c.Fixed)
	return err
}
