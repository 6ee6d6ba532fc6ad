package review

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sort"

	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/sparkcd/sparkcd/admission"
	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/gitsource"
	"github.com/sparkcd/sparkcd/policies"
	"github.com/sparkcd/sparkcd/render/build"
	"github.com/sparkcd/sparkcd/render/materialize"
	"github.com/sparkcd/sparkcd/runid"
)

// ChangeKind says how a job differs between two revisions.
type ChangeKind string

// The kinds of change.
const (
	Added     ChangeKind = "added"
	Removed   ChangeKind = "removed"
	Changed   ChangeKind = "changed"
	Unchanged ChangeKind = "unchanged"
)

// JobChange is how one job differs between two revisions.
type JobChange struct {
	Name      string     `json:"name"`
	Namespace string     `json:"namespace"`
	Source    string     `json:"source"`
	Change    ChangeKind `json:"change"`
	// Diff is a unified diff of the job's rendered objects (the job after
	// defaults and the objects of the run it would start).
	Diff string `json:"diff,omitempty"`
	// Introduced are findings at To that were not at From; Fixed the reverse.
	Introduced []v1alpha1.Finding `json:"introduced"`
	Fixed      []v1alpha1.Finding `json:"fixed"`
	// SpecHashFrom and SpecHashTo identify the spec at each side; when they
	// differ, the reconciler starts a new run.
	SpecHashFrom string `json:"specHashFrom,omitempty"`
	SpecHashTo   string `json:"specHashTo,omitempty"`
	// EnvelopeFrom and EnvelopeTo are the resource envelopes at each side.
	EnvelopeFrom *policies.Envelope `json:"envelopeFrom,omitempty"`
	EnvelopeTo   *policies.Envelope `json:"envelopeTo,omitempty"`
}

// DiffReport is the review of PATH between two revisions.
type DiffReport struct {
	From string      `json:"from"`
	To   string      `json:"to"`
	Path string      `json:"path"`
	Jobs []JobChange `json:"jobs"`
	// ToReport is the full check report at To, for its error count.
	ToReport *Report `json:"-"`
	// MaxBytes bounds the markdown output (DefaultMaxBytes when 0).
	MaxBytes int `json:"-"`
}

// Changed reports whether any job was added, removed or changed.
func (d *DiffReport) Changed() bool {
	for _, j := range d.Jobs {
		if j.Change != Unchanged {
			return true
		}
	}
	return false
}

// IntroducedErrors counts the error findings the To revision introduces.
func (d *DiffReport) IntroducedErrors() int {
	n := 0
	for _, j := range d.Jobs {
		n += admission.Count(j.Introduced, v1alpha1.SeverityError)
	}
	return n
}

// Diff renders path at the revisions from and to of the git repository
// holding repoDir — no cluster, no network — and compares them job by job.
// One render cache serves both sides, so only the jobs whose files differ
// are built twice, and one verdict memo, so only the jobs that differ are
// judged twice.
func Diff(ctx context.Context, repoDir, from, to, path string, opts Options) (*DiffReport, error) {
	if opts.Build.Cache == nil {
		opts.Build.Cache = build.NewCache()
	}
	if opts.Verdicts == nil {
		opts.Verdicts = admission.NewMemo()
	}
	// One side may hold nothing (a change that adds or removes every job);
	// both holding nothing is a path that does not name the jobs.
	allowEmpty := opts.AllowEmpty
	opts.AllowEmpty = true
	dir, err := os.MkdirTemp("", "sparkcd-diff-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	fromRev, err := gitsource.Export(repoDir, from, dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBuild, err)
	}
	fromReport, err := checkRevision(ctx, repoDir, dir, from, path, opts)
	if err != nil {
		return nil, err
	}
	// The second revision is written over the first: only the files that
	// differ change, and the cache rebuilds only the units that read them.
	toRev, err := gitsource.ExportChange(repoDir, fromRev, to, dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBuild, err)
	}
	toReport, err := checkRevision(ctx, repoDir, dir, to, path, opts)
	if err != nil {
		return nil, err
	}
	if !allowEmpty && fromReport.Empty() && toReport.Empty() {
		return nil, &EmptyError{Path: path, Detail: fmt.Sprintf("at '%s' and at '%s'", from, to)}
	}
	d := &DiffReport{From: fromRev.String(), To: toRev.String(), Path: path, ToReport: toReport}
	mopts := materialize.DefaultOptions()
	old := indexJobs(fromReport)
	now := indexJobs(toReport)
	keys := make([]string, 0, len(old)+len(now))
	for k := range old {
		keys = append(keys, k)
	}
	for k := range now {
		if _, ok := old[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		c, err := compareJob(old[k], now[k], d.From, d.To, mopts)
		if err != nil {
			return nil, err
		}
		d.Jobs = append(d.Jobs, c)
	}
	return d, nil
}

// checkRevision checks path inside dir, which holds the tree of rev.
func checkRevision(ctx context.Context, repoDir, dir, rev, path string, opts Options) (*Report, error) {
	report, err := Check(ctx, dir, path, opts)
	if err != nil {
		return nil, fmt.Errorf("at revision '%s': %w", rev, err)
	}
	report.Root = repoDir
	return report, nil
}

func indexJobs(r *Report) map[string]*JobReport {
	m := make(map[string]*JobReport, len(r.Jobs))
	for i := range r.Jobs {
		j := &r.Jobs[i]
		m[j.Namespace+"/"+j.Name] = j
	}
	return m
}

func compareJob(old, now *JobReport, fromName, toName string, mopts materialize.Options) (JobChange, error) {
	ref := now
	if ref == nil {
		ref = old
	}
	c := JobChange{Name: ref.Name, Namespace: ref.Namespace, Source: ref.Source}
	if old != nil && now != nil && sameJob(old, now) {
		// The rendered objects follow from the judged job alone: an equal job
		// renders equal text, so most of a large repository is compared
		// without materialising it twice.
		c.EnvelopeFrom, c.EnvelopeTo = old.Envelope, now.Envelope
		c.SpecHashFrom, c.SpecHashTo = specHash(old), specHash(now)
		c.Change = Unchanged
		return c, nil
	}
	var before, after string
	var err error
	if old != nil {
		c.EnvelopeFrom = old.Envelope
		c.SpecHashFrom = specHash(old)
		if before, err = renderText(old, fromName, mopts); err != nil {
			return c, err
		}
	}
	if now != nil {
		c.EnvelopeTo = now.Envelope
		c.SpecHashTo = specHash(now)
		if after, err = renderText(now, toName, mopts); err != nil {
			return c, err
		}
	}
	switch {
	case old == nil:
		c.Change = Added
	case now == nil:
		c.Change = Removed
	case before != after || !sameFindings(old.Findings, now.Findings):
		c.Change = Changed
	default:
		c.Change = Unchanged
	}
	if c.Change != Unchanged {
		c.Diff, err = difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A: difflib.SplitLines(before), B: difflib.SplitLines(after),
			FromFile: "a/" + ref.Namespace + "/" + ref.Name, ToFile: "b/" + ref.Namespace + "/" + ref.Name,
			Context: 3,
		})
		if err != nil {
			return c, err
		}
	}
	c.Introduced = findingsMinus(findingsOf(now), findingsOf(old))
	c.Fixed = findingsMinus(findingsOf(old), findingsOf(now))
	return c, nil
}

// sameJob reports whether two revisions judged a job alike: the same job
// after defaults and policies, and the same findings.
func sameJob(old, now *JobReport) bool {
	return old.Job != nil && now.Job != nil && equality.Semantic.DeepEqual(old.Job, now.Job) && sameFindings(old.Findings, now.Findings)
}

// renderText renders a job as the YAML a reviewer reads. The run is named
// "<job>-review" and carries no revision or spec hash, so that the diff shows
// what changes in the objects rather than the new run's name on every line;
// JobChange.SpecHashFrom/To say whether a new run would start.
func renderText(j *JobReport, _ string, mopts materialize.Options) (string, error) {
	name := runid.RunName(j.Name, "review")
	run := runid.Identity{Name: name, AppID: runid.AppID(j.Namespace, name), Trigger: v1alpha1.TriggerCommit}
	objs, err := j.Objects(run, mopts, true)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := WriteObjects(&buf, objs, "yaml"); err != nil {
		return "", err
	}
	return buf.String(), nil
}

func findingsOf(j *JobReport) []v1alpha1.Finding {
	if j == nil {
		return nil
	}
	return j.Findings
}

func findingKey(f v1alpha1.Finding) string {
	return string(f.Severity) + "\x00" + f.Rule + "\x00" + f.Field + "\x00" + f.Policy
}

// findingsMinus returns the findings of a whose rule, field, policy and
// severity are not in b. Messages are not compared: a changed value in the
// message is the same finding.
func findingsMinus(a, b []v1alpha1.Finding) []v1alpha1.Finding {
	seen := make(map[string]bool, len(b))
	for _, f := range b {
		seen[findingKey(f)] = true
	}
	out := []v1alpha1.Finding{}
	for _, f := range a {
		if !seen[findingKey(f)] {
			out = append(out, f)
		}
	}
	return out
}

func sameFindings(a, b []v1alpha1.Finding) bool {
	return len(findingsMinus(a, b)) == 0 && len(findingsMinus(b, a)) == 0
}

func specHash(j *JobReport) string {
	if j.Job == nil {
		return ""
	}
	return runid.SpecHash(j.Job)
}
