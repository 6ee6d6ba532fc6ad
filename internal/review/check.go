package review

import (
	"context"
	"errors"
	"fmt"

	"github.com/sparkcd/sparkcd/admission"
	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/decryption"
	"github.com/sparkcd/sparkcd/policies"
	"github.com/sparkcd/sparkcd/render/build"
	"github.com/sparkcd/sparkcd/render/materialize"
)

// Options are the per-call settings of Check.
type Options struct {
	// Build configures the kustomize build.
	Build build.BuildOptions
	// Policies, when set, default and judge every job.
	Policies admission.Policies
	// Job, when set, keeps only the job of that name (and no supporting
	// object).
	Job string
	// SupportingKinds are the kinds of supporting objects that may be
	// applied; nil means v1alpha1.DefaultSupportingKinds, as on a
	// JobSource.
	SupportingKinds []v1alpha1.SupportingKind
	// PodSecurity, when set, is the Pod Security level every target
	// namespace enforces (--pod-security-level): the run's pods are judged
	// against it (and the policies' spec.podSecurity).
	PodSecurity *admission.PodSecurityLevel
	// DecryptionKeys, when set, decrypt the SOPS-encrypted objects to
	// verify them (a key that does not open one is a decryption-failed
	// finding); without them encrypted objects are accepted. Either way
	// the review shows decryption.Placeholder, never a value.
	DecryptionKeys *decryption.Keys
	// AllowEmpty accepts a path that builds to no job and no supporting
	// object; without it Check returns an *EmptyError, so a mistyped path
	// fails in CI instead of passing with nothing checked.
	AllowEmpty bool
	// Verdicts, when set, keeps the jobs' verdicts across calls with the
	// same options: Diff judges both revisions through one.
	Verdicts *admission.Memo
}

// DefaultOptions returns the options `sparkcd check` starts from.
func DefaultOptions() Options {
	return Options{Build: build.DefaultBuildOptions()}
}

// JobReport is what the review says of one job: admission's verdict, the
// same the cluster reaches. A unit of the path that did not build is a
// JobReport without a name, whose build-failed finding names the file.
type JobReport struct {
	admission.Verdict
	// Source is the file the job was read from, relative to the root.
	Source string
	// Envelope is the resources the job may take; nil when they cannot be
	// computed (a finding then says why). Only the review reports it, so
	// the loops do not pay for it.
	Envelope *policies.Envelope
	// Defaults are the values the policies' defaults filled into the job,
	// so that a job a policy changed does not read as untouched.
	Defaults []policies.AppliedDefault
}

// Report is the review of one path at one revision.
type Report struct {
	// Root is the repository root the path was built in.
	Root string
	// Path is what was built, relative to Root.
	Path string
	// Jobs sorted by namespace, then name.
	Jobs []JobReport
	// Objects are the supporting objects beside the jobs, sorted by
	// namespace, group, kind and name.
	Objects []ObjectReport
	// total, when set, is the summary of the whole report this one was
	// filtered from (ErrorsOnly): the counts stay those of the path.
	total *Summary
}

// Summary totals a report.
type Summary struct {
	Jobs     int `json:"jobs"`
	Objects  int `json:"objects,omitempty"`
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
}

// Summary totals the report.
func (r *Report) Summary() Summary {
	if r.total != nil {
		return *r.total
	}
	var s Summary
	for i := range r.Jobs {
		if r.Jobs[i].Name != "" {
			s.Jobs++
		}
		s.Errors += r.Jobs[i].Errors()
		s.Warnings += r.Jobs[i].Warnings()
	}
	for i := range r.Objects {
		s.Objects++
		s.Errors += admission.Count(r.Objects[i].Findings, v1alpha1.SeverityError)
		s.Warnings += admission.Count(r.Objects[i].Findings, v1alpha1.SeverityWarning)
	}
	return s
}

// Check builds path inside root and judges every job it yields with
// admission, as the source loop does: a unit that does not build is a
// build-failed finding and the other units' jobs are judged all the same.
// An error wrapping ErrBuild means nothing could be read or built.
func Check(ctx context.Context, root, path string, opts Options) (*Report, error) {
	res, err := build.Build(ctx, root, path, opts.Build)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBuild, err)
	}
	if len(res.Errors) > 0 && len(res.Errors) == len(res.Units) {
		errs := make([]error, 0, len(res.Errors))
		for _, e := range res.Errors {
			errs = append(errs, e)
		}
		return nil, fmt.Errorf("%w: %w", ErrBuild, errors.Join(errs...))
	}
	report := &Report{Root: root, Path: path}
	decrypted := decryption.Decrypt(root, res, decryption.Options{Keys: opts.DecryptionKeys, Mask: true})
	aopts := admission.Options{Policies: opts.Policies, Materialize: materialize.DefaultOptions(), Decryption: decrypted, Memo: opts.Verdicts}
	if lv := opts.PodSecurity; lv != nil {
		aopts.PodSecurity = func(string) *admission.PodSecurityLevel { return lv }
	}
	built := builtJobs(res)
	for _, v := range admission.Result(res, aopts) {
		if opts.Job != "" && v.Name != opts.Job && v.Name != "" {
			continue
		}
		jr := JobReport{Verdict: v, Source: v.Origin.File}
		if v.Job != nil {
			if env, err := policies.ComputeEnvelope(v.Job); err == nil {
				jr.Envelope = &env
			}
			jr.Defaults = appliedDefaults(opts.Policies, built[builtKey(v.Origin.File, v.Namespace, v.Name)])
		}
		report.Jobs = append(report.Jobs, jr)
	}
	report.judgeObjects(res, opts, decrypted)
	if opts.Job != "" && len(report.Jobs) == 0 {
		return nil, fmt.Errorf("%w: no job named '%s' in '%s'", ErrBuild, opts.Job, path)
	}
	if !opts.AllowEmpty && report.Empty() {
		return nil, emptyError(root, path, res)
	}
	return report, nil
}

// explainer is policies that say which defaults they filled in:
// *policies.Set is one.
type explainer interface {
	AppliedDefaults(job *v1alpha1.SparkJob) []policies.AppliedDefault
}

var _ explainer = (*policies.Set)(nil)

// appliedDefaults is what p's defaults fill into job, after sparkcd's own
// defaults as admission applies them first.
func appliedDefaults(p admission.Policies, job *v1alpha1.SparkJob) []policies.AppliedDefault {
	ex, ok := p.(explainer)
	if !ok || job == nil {
		return nil
	}
	defaulted := job.DeepCopy()
	defaulted.Status = v1alpha1.SparkJobStatus{}
	v1alpha1.SetDefaults(defaulted)
	return ex.AppliedDefaults(defaulted)
}

// builtJobs indexes the decoded jobs of a build by file, namespace and name.
func builtJobs(res *build.BuildResult) map[string]*v1alpha1.SparkJob {
	out := make(map[string]*v1alpha1.SparkJob, len(res.Jobs))
	for i := range res.Jobs {
		j := &res.Jobs[i]
		if k := builtKey(j.Origin.File, j.Namespace, j.Name); j.Object != nil && out[k] == nil {
			out[k] = j.Object
		}
	}
	return out
}

func builtKey(file, namespace, name string) string { return file + "\x00" + namespace + "/" + name }
