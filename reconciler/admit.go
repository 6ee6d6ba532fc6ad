package reconciler

import (
	"cmp"
	"context"
	"fmt"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/sparkcd/sparkcd/admission"
	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

// maxFindingsInMessage bounds how many findings a condition message lists.
const maxFindingsInMessage = 5

// admit judges the job with admission, as the source loop and `sparkcd
// check` do, and computes the spec hash of what a run would start with. A
// job with errors is a terminal error: it is Stalled, and retried only when
// it (or the policies) change. A policy's error is a PolicyViolation, any
// other an InvalidSpec.
func (r *JobReconciler) admit(ctx context.Context, rc *reconciliation) error {
	lv, err := namespacePodSecurity(ctx, namespaceReader{r.client, r.apiReader}, rc.job.Namespace)
	if err != nil {
		return err // transient: judged again after a back-off
	}
	key := verdictKey(rc.job, r.opts.Policies) + podSecurityKey(lv)
	v, hash, ok := r.verdicts.get(rc.job, key)
	if !ok {
		v = admission.Job(rc.job, admission.Options{Policies: r.opts.Policies, Materialize: r.opts.Materialize,
			PodSecurity: func(string) *admission.PodSecurityLevel { return lv }})
		if v.Job != nil {
			hash = runid.SpecHash(v.Job)
		}
		r.verdicts.put(rc.job, key, v, hash)
	}
	var byPolicy, other []v1alpha1.Finding
	for _, f := range v.Findings {
		if f.Policy != "" {
			byPolicy = append(byPolicy, f)
		} else {
			other = append(other, f)
		}
	}
	if msg := errorFindings(byPolicy); msg != "" {
		return reconcile.TerminalError(fmt.Errorf("%w: %s", ErrPolicyViolation, msg))
	}
	if msg := errorFindings(other); msg != "" || v.Job == nil {
		return reconcile.TerminalError(fmt.Errorf("%w: %s", ErrInvalidSpec, cmp.Or(msg, "the job could not be judged")))
	}
	rc.admitted = v.Job
	rc.hash = hash
	return nil
}

// errorFindings lists the findings of severity error, or returns "".
func errorFindings(findings []v1alpha1.Finding) string {
	var parts []string
	n := 0
	for _, f := range findings {
		if f.Severity != v1alpha1.SeverityError {
			continue
		}
		n++
		if len(parts) == maxFindingsInMessage {
			continue
		}
		s := f.Message
		if f.Field != "" {
			s = f.Field + ": " + s
		}
		if f.Policy != "" {
			s += " (policy '" + f.Policy + "', rule '" + f.Rule + "')"
		} else if f.Rule != "" {
			s += " (rule '" + f.Rule + "')"
		}
		parts = append(parts, s)
	}
	if n > len(parts) {
		parts = append(parts, fmt.Sprintf("and %d more", n-len(parts)))
	}
	return strings.Join(parts, "; ")
}
