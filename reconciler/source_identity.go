package reconciler

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/types"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// The source loop's side of per-source identity (identity_client.go): the
// account a source writes as, the refusal of cross-namespace targets, and
// how a refusal is reported — a finding on the job or object in
// status.jobs, and a Ready=False condition naming the first refusal,
// while the source's other jobs are applied all the same.

// AnnotationSourceServiceAccount on a SparkJob names the service account,
// "<namespace>/<name>", its source applied it as; the job loop creates
// the job's runs as that account. The source loop sets it (never from
// git) and removes it when the source writes as sparkcd.
const AnnotationSourceServiceAccount = "sparkcd.io/source-service-account"

// Reasons of a JobSource's Ready condition.
const (
	// ReasonImpersonationForbidden: the API server refused a write sent as
	// the source's service account; the message names the account, the
	// verb, the kind and the namespace. The other jobs were applied.
	ReasonImpersonationForbidden = "ImpersonationForbidden"
	// ReasonCrossNamespaceTargetsRefused: jobs or objects for a namespace
	// other than the source's were not applied (serve
	// --allow-cross-namespace-targets=false).
	ReasonCrossNamespaceTargetsRefused = "CrossNamespaceTargetsRefused"
)

// Rules of the findings in status.jobs.
const (
	RuleImpersonationForbidden = "impersonation-forbidden"
	RuleCrossNamespaceTarget   = "cross-namespace-target"
)

// identityNotes are the refusals of one reconcile: the Ready reason and
// message of the first, and how many there were.
type identityNotes struct {
	reason, message string
	count           int
}

func (n *identityNotes) note(reason, message string) {
	if n.reason == "" {
		n.reason, n.message = reason, message
	}
	n.count++
}

// summary is the Ready message: the first refusal, and how many more.
func (n *identityNotes) summary(revision string) string {
	msg := fmt.Sprintf("revision %s: %s", revision, n.message)
	if n.count > 1 {
		msg += fmt.Sprintf(" (and %d more refusals)", n.count-1)
	}
	return msg + "; the other jobs are applied (see status.jobs)"
}

// sourceServiceAccount is the account a source writes as, and false when
// it writes as sparkcd.
func (r *SourceReconciler) sourceServiceAccount(src *v1alpha1.JobSource) (serviceAccount, bool) {
	name := src.Spec.ServiceAccountName
	if name == "" {
		name = r.opts.Identity.DefaultServiceAccount
	}
	return serviceAccount{namespace: src.Namespace, name: name}, name != ""
}

// asSource is ctx for the writes of the source's apply and prune phases.
func (r *SourceReconciler) asSource(ctx context.Context, src *v1alpha1.JobSource) context.Context {
	if sa, ok := r.sourceServiceAccount(src); ok {
		return withServiceAccount(ctx, sa)
	}
	return ctx
}

// recordIdentity sets on a job to apply the account its source writes as,
// which its runs are created as; an annotation of that name from git is
// dropped.
func (r *SourceReconciler) recordIdentity(job *v1alpha1.SparkJob, src *v1alpha1.JobSource) {
	delete(job.Annotations, AnnotationSourceServiceAccount)
	if sa, ok := r.sourceServiceAccount(src); ok {
		job.Annotations[AnnotationSourceServiceAccount] = sa.String()
	}
}

// refuseCrossNamespace returns rs without the jobs and supporting objects
// outside the source's namespace when cross-namespace targets are
// refused, each reported in sc; one already in the inventory stays there,
// unpruned and unchanged. rs is the render's cached result: it is copied,
// never changed.
func (r *SourceReconciler) refuseCrossNamespace(sc *sourceReconciliation, rs *renderedSource) *renderedSource {
	if !r.opts.Identity.NoCrossNamespaceTargets {
		return rs
	}
	own := sc.src.Namespace
	out := *rs
	out.jobs, out.rejected, out.objects = nil, nil, nil
	for _, dj := range rs.jobs {
		if dj.key.Namespace == own {
			out.jobs = append(out.jobs, dj)
			continue
		}
		sc.refuseTarget("SparkJob", dj.key, dj.job.Annotations[v1alpha1.AnnotationSourceFile])
		if sc.inInventory(dj.key) {
			sc.keep(dj.key)
		}
	}
	for _, rj := range rs.rejected {
		if rj.key.Namespace == own || rj.key.Name == "" {
			out.rejected = append(out.rejected, rj)
		}
	}
	for _, ds := range rs.objects {
		if ds.ref.Namespace == own {
			out.objects = append(out.objects, ds)
			continue
		}
		sc.refuseTarget(refKind(ds.ref), types.NamespacedName{Namespace: ds.ref.Namespace, Name: ds.ref.Name}, ds.source)
		if slices.Contains(sc.base.Status.SupportingInventory, ds.ref) {
			sc.keepObject(ds.ref)
		}
	}
	return &out
}

// refuseTarget reports an object for another namespace than the source's.
func (sc *sourceReconciliation) refuseTarget(kind string, key types.NamespacedName, source string) {
	msg := fmt.Sprintf("%s '%s' targets namespace '%s', not the JobSource's namespace '%s': cross-namespace targets are refused (serve --allow-cross-namespace-targets)",
		kind, key.Name, key.Namespace, sc.src.Namespace)
	sc.identity.note(ReasonCrossNamespaceTargetsRefused, msg)
	sc.conflicts = append(sc.conflicts, v1alpha1.JobFindings{
		ObjectRef: v1alpha1.ObjectRef{Namespace: key.Namespace, Name: key.Name}, Source: source,
		Findings: []v1alpha1.Finding{{Severity: v1alpha1.SeverityError, Rule: RuleCrossNamespaceTarget, Field: "metadata.namespace", Message: msg}},
	})
}

// identityRefused reports a SparkJob whose write the API server refused
// to the source's service account, and says whether err was that: the
// caller goes on with the next job. A job of the inventory stays there,
// so that a refused update is never followed by a prune.
func (sc *sourceReconciliation) identityRefused(key types.NamespacedName, source string, err error) bool {
	var ie *ImpersonationError
	if !errors.As(err, &ie) {
		return false
	}
	sc.identity.note(ReasonImpersonationForbidden, ie.Error())
	if sc.inInventory(key) {
		sc.keep(key)
	}
	sc.conflicts = append(sc.conflicts, v1alpha1.JobFindings{
		ObjectRef: v1alpha1.ObjectRef{Namespace: key.Namespace, Name: key.Name}, Source: source,
		Findings: []v1alpha1.Finding{{Severity: v1alpha1.SeverityError, Rule: RuleImpersonationForbidden, Field: "kind", Message: ie.Error()}},
	})
	return true
}

// noteImpersonation notes a supporting object's refusal (reported as an
// apply-refused finding by supportRefused) as the Ready reason when the
// refusal was to the source's service account.
func (sc *sourceReconciliation) noteImpersonation(err error) {
	var ie *ImpersonationError
	if errors.As(err, &ie) {
		sc.identity.note(ReasonImpersonationForbidden, ie.Error())
	}
}
