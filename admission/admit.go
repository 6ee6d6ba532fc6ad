package admission

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/decryption"
	"github.com/sparkcd/sparkcd/render/build"
	"github.com/sparkcd/sparkcd/render/materialize"
	"github.com/sparkcd/sparkcd/runid"
)

// Rules of the findings admission adds to the decoder's, the policies' and
// Validate's.
const (
	// RuleTargetNamespace: the job lands outside its JobSource's
	// spec.targetNamespaces.
	RuleTargetNamespace = "target-namespace"
	// RuleBuildFailed: a unit of the path could not be built; the file is
	// the one at fault.
	RuleBuildFailed = "build-failed"
	// RuleNotMaterializable: the job passes every other rule, but the
	// objects of its run cannot be created from it (a Spark property whose
	// value Kubernetes cannot take, say).
	RuleNotMaterializable = "not-materializable"
	// RuleOwnedByAnotherSource: another JobSource applied a SparkJob of
	// that namespace and name first. Only the cluster knows it: the source
	// loop adds it, never an offline review.
	RuleOwnedByAnotherSource = "owned-by-another-source"
)

// Options are what a verdict depends on besides the job.
type Options struct {
	// Policies default and judge every job; nil judges without policies.
	Policies Policies
	// Targets, when not nil, are the namespaces jobs may land in: a
	// JobSource's target namespaces.
	Targets []string
	// Materialize are the options of the trial materialisation.
	Materialize materialize.Options
	// PodSecurity, when not nil, is the Pod Security level a namespace
	// enforces (nil for none): the run's driver and executor pods are judged
	// against the stricter of it and the policies' (podsecurity.go).
	PodSecurity func(namespace string) *PodSecurityLevel
	// Decryption, when set, is what decryption.Decrypt found in the same
	// build: a job that reads an object it could not decrypt is held back.
	Decryption *decryption.Outcome
	// Memo, when set, reuses the verdict of a job judged before with
	// these Options (memo.go).
	Memo *Memo
}

// Verdict is what admission says of one job, or of one unit that did not
// build (then Name is empty and Origin.File names the file at fault).
type Verdict struct {
	Name      string
	Namespace string
	// Origin is where the job was built from; zero for a job read from the
	// cluster.
	Origin build.Origin
	// Findings of decoding, policies, validation, the target namespaces
	// and the trial materialisation, errors first.
	Findings []v1alpha1.Finding
	// Job is the job after defaults and policy defaults, as a run starts
	// it; nil when it could not be decoded.
	Job *v1alpha1.SparkJob
}

// Admitted reports whether a run of the job may start: it was decoded and
// has no error finding.
func (v *Verdict) Admitted() bool { return v.Job != nil && !HasErrors(v.Findings) }

// Errors counts the error findings.
func (v *Verdict) Errors() int { return Count(v.Findings, v1alpha1.SeverityError) }

// Warnings counts the warning findings.
func (v *Verdict) Warnings() int { return Count(v.Findings, v1alpha1.SeverityWarning) }

// Job judges one job as every part of sparkcd does — `sparkcd check`,
// `render` and `diff`, the source loop before it applies the job, the job
// loop before each run: defaults, then the policies, then validation, then
// a trial materialisation, so that an admitted job is one whose run's
// objects can be created. The job itself is not changed.
func Job(job *v1alpha1.SparkJob, opts Options) Verdict {
	v := Verdict{Name: job.Name, Namespace: job.Namespace}
	judged := job.DeepCopy()
	judged.Status = v1alpha1.SparkJobStatus{}
	v1alpha1.SetDefaults(judged)
	if opts.Policies != nil {
		var found []v1alpha1.Finding
		judged, found = opts.Policies.Apply(judged)
		v.Findings = append(v.Findings, found...)
		if judged == nil {
			v.Findings = append(v.Findings, v1alpha1.Finding{Severity: v1alpha1.SeverityError, Rule: RuleNotMaterializable,
				Message: "the policies returned no job"})
			sortFindings(v.Findings)
			return v
		}
	}
	v.Findings = append(v.Findings, Validate(judged)...)
	v.Findings = append(v.Findings, targetFindings(job.Namespace, opts.Targets)...)
	if !HasErrors(v.Findings) {
		objs, found := trial(judged, opts.Materialize)
		v.Findings = append(v.Findings, found...)
		v.Findings = append(v.Findings, podSecurity(objs, job.Namespace, opts)...)
	}
	v.Job = judged
	sortFindings(v.Findings)
	return v
}

// Result judges everything a build yielded: each unit that did not build is
// a verdict with a build-failed finding naming its file, each job is judged
// by Job after its decoding findings. The verdicts are sorted by name, then
// namespace; the build failures come first.
func Result(res *build.BuildResult, opts Options) []Verdict {
	out := make([]Verdict, 0, len(res.Errors)+len(res.Jobs))
	for _, be := range res.Errors {
		out = append(out, Verdict{Origin: build.Origin{File: be.File}, Findings: []v1alpha1.Finding{{
			Severity: v1alpha1.SeverityError, Rule: RuleBuildFailed, Message: be.Error(),
		}}})
	}
	for i := range res.Jobs {
		out = append(out, Built(&res.Jobs[i], opts))
	}
	slices.SortStableFunc(out, func(a, b Verdict) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Namespace, b.Namespace))
	})
	return out
}

// Built judges one built job: its decoding findings, then Job's.
func Built(j *build.Job, opts Options) Verdict {
	if j.Object == nil {
		v := Verdict{Name: j.Name, Namespace: j.Namespace, Origin: j.Origin, Findings: slices.Clone(j.Findings)}
		v.Findings = append(v.Findings, targetFindings(j.Namespace, opts.Targets)...)
		sortFindings(v.Findings)
		return v
	}
	var v Verdict
	if opts.Memo != nil {
		v = opts.Memo.job(j.Object, opts)
	} else {
		v = Job(j.Object, opts)
	}
	v.Origin = j.Origin
	v.Findings = append(slices.Clone(j.Findings), v.Findings...)
	v.Findings = append(v.Findings, UndecryptedReferences(j.Object, j.Namespace, opts.Decryption)...)
	sortFindings(v.Findings)
	return v
}

// targetFindings refuses a namespace outside targets (nil targets allow any).
func targetFindings(namespace string, targets []string) []v1alpha1.Finding {
	if targets == nil || slices.Contains(targets, namespace) {
		return nil
	}
	return []v1alpha1.Finding{{
		Severity: v1alpha1.SeverityError, Rule: RuleTargetNamespace, Field: "metadata.namespace",
		Message: fmt.Sprintf("namespace '%s' is not one of the source's target namespaces ('%s')", namespace, strings.Join(targets, "', '")),
	}}
}

// trial materialises the job's first run and turns an error into a finding,
// so that nothing the cluster would refuse passes a review.
func trial(job *v1alpha1.SparkJob, opts materialize.Options) (*materialize.Objects, []v1alpha1.Finding) {
	objs, err := materialize.Materialize(job, runid.OfflineRun(job, ""), opts)
	if err == nil {
		return objs, nil
	}
	f := v1alpha1.Finding{Severity: v1alpha1.SeverityError, Rule: RuleNotMaterializable, Field: "spec",
		Message: "the run's objects cannot be created: " + err.Error()}
	var ce *materialize.ConfError
	if errors.As(err, &ce) {
		f.Field = confField(ce.Key)
	}
	return nil, []v1alpha1.Finding{f}
}

// HasErrors reports whether any finding is an error.
func HasErrors(findings []v1alpha1.Finding) bool {
	return slices.ContainsFunc(findings, func(f v1alpha1.Finding) bool { return f.Severity == v1alpha1.SeverityError })
}

// Count counts the findings of severity s.
func Count(fs []v1alpha1.Finding, s v1alpha1.Severity) int {
	n := 0
	for _, f := range fs {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// sortFindings orders errors first, then by field, rule, policy and
// message, so that output is the same from run to run.
func sortFindings(fs []v1alpha1.Finding) {
	slices.SortStableFunc(fs, func(a, b v1alpha1.Finding) int {
		return cmp.Or(
			cmp.Compare(severityRank(a.Severity), severityRank(b.Severity)),
			cmp.Compare(a.Field, b.Field),
			cmp.Compare(a.Rule, b.Rule),
			cmp.Compare(a.Policy, b.Policy),
			cmp.Compare(a.Message, b.Message),
		)
	})
}

// severityRank puts errors before everything else.
func severityRank(s v1alpha1.Severity) int {
	if s == v1alpha1.SeverityError {
		return 0
	}
	return 1
}
