package reconciler

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sparkcd/sparkcd/admission"
	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/decryption"
	"github.com/sparkcd/sparkcd/render/build"
	"github.com/sparkcd/sparkcd/render/materialize"
	"github.com/sparkcd/sparkcd/runid"
)

// Rules of the findings the source loop reports; admission owns them.
const (
	RuleTargetNamespace      = admission.RuleTargetNamespace
	RuleOwnedByAnotherSource = admission.RuleOwnedByAnotherSource
	RuleBuildFailed          = admission.RuleBuildFailed
)

// renderedSource is what one revision of a source yields.
type renderedSource struct {
	revision   string
	generation int64
	policies   string // the version of the policies that judged it
	// levels are the Pod Security levels of the jobs' namespaces that
	// judged it (podsecurity.go): a label change judges again.
	levels map[string]string
	// jobs are the admitted jobs, to apply.
	jobs []desiredJob
	// rejected are the jobs that are not applied, with why.
	rejected []rejectedJob
	// objects are the admitted supporting objects, to apply before the
	// jobs; objectVerdicts are all of them, judged (source_support.go).
	objects        []desiredSupport
	objectVerdicts []admission.ObjectVerdict
	// findings are every job's findings, errors and warnings.
	findings []v1alpha1.JobFindings
	// holdPrune says why nothing may be pruned at this revision: units
	// that did not build may hold jobs that still exist in git.
	holdPrune string
	// keys is the version of the decryption keys it was decrypted with;
	// decryption is what they opened, undecrypted the objects they did
	// not (source_decrypt.go).
	keys        string
	decryption  *decryption.Outcome
	undecrypted []v1alpha1.SupportingRef
}

// desiredJob is a SparkJob as git has it, with sparkcd's labels and
// annotations, and the hash of that content.
type desiredJob struct {
	key  types.NamespacedName
	job  *v1alpha1.SparkJob
	hash string
	// digest is runid.AppliedSpecDigest of job: what the job loop may run.
	digest string
}

// rejectedJob is a job that failed to decode, validate or pass a policy.
type rejectedJob struct {
	key     types.NamespacedName
	message string
}

// render builds the source's path in the checkout and judges every job,
// reusing the last outcome while the revision and the spec stay the same.
// A build of the whole path that fails is recorded in sc and yields
// nothing: the cluster is left as it is.
func (r *SourceReconciler) render(ctx context.Context, sc *sourceReconciliation, st *sourceState, dir string) (*renderedSource, error) {
	src := sc.src
	dopts, keys, err := r.decryptionOptions(ctx, src)
	if err != nil {
		return nil, err
	}
	levels := newNamespaceLevels(ctx, namespaceReader{r.client, r.apiReader})
	if rs := st.rendered; rs != nil && rs.revision == sc.revision && rs.generation == src.Generation && rs.policies == admission.VersionOf(r.opts.Policies) &&
		rs.keys == keys && levels.unchanged(rs.levels) {
		sc.findings = rs.findings
		return rs, nil
	}
	path := src.Spec.Path
	if path == "" {
		path = "."
	}
	res, err := build.Build(ctx, dir, path, build.BuildOptions{
		AllowRemoteBases: r.opts.AllowRemoteBases,
		Cache:            st.cache,
		DefaultNamespace: src.Namespace,
	})
	if err != nil && ctx.Err() != nil {
		return nil, err
	}
	if err == nil && len(res.Errors) > 0 && len(res.Errors) == len(res.Units) {
		err = buildErrors(res.Errors)
	}
	if err != nil {
		sc.buildFailed = fmt.Sprintf("unable to build '%s' at revision %s: %v", path, sc.revision, err)
		return nil, nil
	}
	rs := &renderedSource{revision: sc.revision, generation: src.Generation, policies: admission.VersionOf(r.opts.Policies), levels: map[string]string{}, keys: keys}
	r.decrypt(dir, res, dopts, rs)
	for _, be := range res.Errors {
		rs.findings = append(rs.findings, v1alpha1.JobFindings{Source: be.File, Findings: []v1alpha1.Finding{{
			Severity: v1alpha1.SeverityError, Rule: RuleBuildFailed, Message: be.Error(),
		}}})
	}
	if len(res.Errors) > 0 {
		rs.holdPrune = fmt.Sprintf("%d of %d paths did not build", len(res.Errors), len(res.Units))
	}
	allowed := targetNamespaces(src)
	for i := range res.Jobs {
		r.judge(rs, &res.Jobs[i], allowed, src, levels)
	}
	r.judgeSupporting(rs, res, allowed, src)
	st.rendered = rs
	sc.findings = rs.findings
	return rs, nil
}

// judge runs admission on one built job, as `sparkcd check` does, and
// places it into rs: applied when admitted, else rejected with its errors.
func (r *SourceReconciler) judge(rs *renderedSource, j *build.Job, allowed []string, src *v1alpha1.JobSource, levels *namespaceLevels) {
	key := types.NamespacedName{Namespace: j.Namespace, Name: j.Name}
	lv, lvErr := levels.get(j.Namespace)
	rs.levels[j.Namespace] = podSecurityKey(lv)
	v := admission.Built(j, admission.Options{Policies: r.opts.Policies, Targets: allowed, Materialize: materialize.DefaultOptions(), Decryption: rs.decryption,
		PodSecurity: func(string) *admission.PodSecurityLevel { return lv }})
	if lvErr != nil {
		rs.levels[j.Namespace] = "unread"
		v.Findings = append(v.Findings, v1alpha1.Finding{Severity: v1alpha1.SeverityError, Rule: admission.RulePodSecurity, Field: "metadata.namespace", Message: lvErr.Error()})
	}
	if len(v.Findings) > 0 {
		rs.findings = append(rs.findings, v1alpha1.JobFindings{ObjectRef: v1alpha1.ObjectRef{Namespace: key.Namespace, Name: key.Name}, Source: j.Origin.File, Findings: v.Findings})
	}
	if msg := errorFindings(v.Findings); msg != "" || j.Object == nil {
		if msg == "" {
			msg = "the job could not be decoded"
		}
		rs.rejected = append(rs.rejected, rejectedJob{key: key, message: fmt.Sprintf("'%s': %s", j.Origin.File, msg)})
		return
	}
	job := desiredObject(j, src)
	r.recordIdentity(job, src)
	digest, err := runid.AppliedSpecDigest(job)
	if err != nil {
		rs.rejected = append(rs.rejected, rejectedJob{key: key, message: fmt.Sprintf("'%s': %v", j.Origin.File, err)})
		return
	}
	rs.jobs = append(rs.jobs, desiredJob{key: key, job: job, hash: contentHash(job), digest: digest})
}

// desiredObject is the SparkJob to apply: the job as git has it (the job
// loop applies defaults and policies itself, so the cluster shows what the
// repository says), with sparkcd's labels and annotations.
func desiredObject(j *build.Job, src *v1alpha1.JobSource) *v1alpha1.SparkJob {
	in := j.Object
	job := &v1alpha1.SparkJob{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: v1alpha1.SparkJobKind},
		ObjectMeta: metav1.ObjectMeta{
			Name:        in.Name,
			Namespace:   in.Namespace,
			Labels:      map[string]string{},
			Annotations: map[string]string{},
		},
		Spec: *in.Spec.DeepCopy(),
	}
	for k, v := range in.Labels {
		job.Labels[k] = v
	}
	for k, v := range in.Annotations {
		if !strings.HasPrefix(k, "config.kubernetes.io/") && !strings.HasPrefix(k, "internal.config.kubernetes.io/") {
			job.Annotations[k] = v
		}
	}
	job.Labels[v1alpha1.LabelManagedBy] = v1alpha1.ManagedByValue
	job.Labels[v1alpha1.LabelSource] = sourceLabel(src)
	inheritShard(job, src)
	job.Annotations[AnnotationSource] = src.Namespace + "/" + src.Name
	if j.Origin.File != "" {
		job.Annotations[v1alpha1.AnnotationSourceFile] = j.Origin.File
	}
	delete(job.Annotations, v1alpha1.AnnotationRevision)
	delete(job.Annotations, AnnotationAppliedHash)
	delete(job.Annotations, v1alpha1.AnnotationAppliedSpecDigest)
	delete(job.Annotations, AnnotationSourceRejected)
	return job
}

// contentHash covers everything applied except the revision, so a commit
// that leaves a job alone does not rewrite it.
func contentHash(job *v1alpha1.SparkJob) string {
	b, err := json.Marshal(struct {
		Meta metav1.ObjectMeta     `json:"metadata"`
		Spec v1alpha1.SparkJobSpec `json:"spec"`
	}{job.ObjectMeta, job.Spec})
	if err != nil {
		b = []byte(err.Error())
	}
	return runid.Digest(b)[:32]
}

// sourceLabel is the sparkcd.io/source label value, "<namespace>.<name>"
// (a label value holds no "/"), shortened with a hash when it would pass
// the 63 characters a label value may have.
func sourceLabel(src *v1alpha1.JobSource) string {
	v := src.Namespace + "." + src.Name
	if len(v) <= 63 {
		return v
	}
	return v[:46] + "-" + runid.DigestOf(v)[:16]
}

// targetNamespaces are the namespaces the source's jobs may land in.
func targetNamespaces(src *v1alpha1.JobSource) []string {
	if len(src.Spec.TargetNamespaces) > 0 {
		return src.Spec.TargetNamespaces
	}
	return []string{src.Namespace}
}

func buildErrors(errs []*build.BuildError) error {
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		parts = append(parts, e.Error())
	}
	return fmt.Errorf("%w: %s", ErrBuildFailed, strings.Join(parts, "; "))
}
