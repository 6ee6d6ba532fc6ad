package review

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/sparkcd/sparkcd/admission"
	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/policies"
	"github.com/sparkcd/sparkcd/render/build"
)

// Options are the per-call settings of Check.
type Options struct {
	// Build configures the kustomize build.
	Build build.BuildOptions
	// Policies, when set, default and judge every job.
	Policies *policies.Set
	// Job, when set, keeps only the job of that name.
	Job string
}

// DefaultOptions returns the options `sparkcd check` starts from.
func DefaultOptions() Options {
	return Options{Build: build.DefaultBuildOptions()}
}

// JobReport is what the review says of one job.
type JobReport struct {
	Name      string
	Namespace string
	// Source is the file the job was read from, relative to the root.
	Source string
	// Origin is where the job came from.
	Origin build.Origin
	// Findings of decoding, policies and validation, errors first.
	Findings []v1alpha1.Finding
	// Job is the job after defaults and policy defaults; nil when it could
	// not be decoded.
	Job *v1alpha1.SparkJob
	// Envelope is the resources the job may take; nil when they cannot be
	// computed (a finding then says why).
	Envelope *policies.Envelope
}

// Errors counts the error findings.
func (j *JobReport) Errors() int { return countSeverity(j.Findings, v1alpha1.SeverityError) }

// Warnings counts the warning findings.
func (j *JobReport) Warnings() int { return countSeverity(j.Findings, v1alpha1.SeverityWarning) }

// Report is the review of one path at one revision.
type Report struct {
	// Root is the repository root the path was built in.
	Root string
	// Path is what was built, relative to Root.
	Path string
	// Jobs sorted by namespace, then name.
	Jobs []JobReport
}

// Summary totals a report.
type Summary struct {
	Jobs     int `json:"jobs"`
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
}

// Summary totals the report.
func (r *Report) Summary() Summary {
	s := Summary{Jobs: len(r.Jobs)}
	for i := range r.Jobs {
		s.Errors += r.Jobs[i].Errors()
		s.Warnings += r.Jobs[i].Warnings()
	}
	return s
}

// Check builds path inside root and judges every job it yields. An error
// wrapping ErrBuild means the input could not be read or built.
func Check(ctx context.Context, root, path string, opts Options) (*Report, error) {
	res, err := build.Build(ctx, root, path, opts.Build)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBuild, err)
	}
	if len(res.Errors) > 0 {
		errs := make([]error, 0, len(res.Errors))
		for _, e := range res.Errors {
			errs = append(errs, e)
		}
		return nil, fmt.Errorf("%w: %w", ErrBuild, errors.Join(errs...))
	}
	report := &Report{Root: root, Path: path}
	for i := range res.Jobs {
		j := &res.Jobs[i]
		if opts.Job != "" && j.Name != opts.Job {
			continue
		}
		report.Jobs = append(report.Jobs, judge(j, opts.Policies))
	}
	if opts.Job != "" && len(report.Jobs) == 0 {
		return nil, fmt.Errorf("%w: no job named '%s' in '%s'", ErrBuild, opts.Job, path)
	}
	sort.SliceStable(report.Jobs, func(a, b int) bool {
		ja, jb := report.Jobs[a], report.Jobs[b]
		if ja.Name != jb.Name {
			return ja.Name < jb.Name
		}
		return ja.Namespace < jb.Namespace
	})
	return report, nil
}

// judge runs defaults, policies and validation on one decoded job.
func judge(j *build.Job, set *policies.Set) JobReport {
	jr := JobReport{
		Name:      j.Name,
		Namespace: j.Namespace,
		Source:    j.Origin.File,
		Origin:    j.Origin,
		Findings:  append([]v1alpha1.Finding(nil), j.Findings...),
	}
	if j.Object == nil {
		sortFindings(jr.Findings)
		return jr
	}
	job := j.Object.DeepCopy()
	v1alpha1.SetDefaults(job)
	if set != nil {
		var found []v1alpha1.Finding
		job, found = set.Apply(job)
		jr.Findings = append(jr.Findings, found...)
	}
	jr.Findings = append(jr.Findings, admission.Validate(job)...)
	jr.Job = job
	if env, err := policies.ComputeEnvelope(job); err == nil {
		jr.Envelope = &env
	}
	sortFindings(jr.Findings)
	return jr
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

// sortFindings orders errors first, then by field and rule, so output is
// stable from run to run.
func sortFindings(fs []v1alpha1.Finding) {
	sort.SliceStable(fs, func(a, b int) bool {
		fa, fb := fs[a], fs[b]
		if fa.Severity != fb.Severity {
			return fa.Severity == v1alpha1.SeverityError
		}
		if fa.Field != fb.Field {
			return fa.Field < fb.Field
		}
		if fa.Rule != fb.Rule {
			return fa.Rule < fb.Rule
		}
		if fa.Policy != fb.Policy {
			return fa.Policy < fb.Policy
		}
		return strings.Compare(fa.Message, fb.Message) < 0
	})
}
