package reconciler

import (
	"fmt"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/sparkcd/sparkcd/admission"
	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

// maxFindingsInMessage bounds how many findings a condition message lists.
const maxFindingsInMessage = 5

// admit applies the policies and validation to the job and computes the
// spec hash of what a run would start with. A job with errors is a terminal
// error: it is Stalled, and retried only when it changes.
func (r *JobReconciler) admit(rc *reconciliation) error {
	admitted := rc.job.DeepCopy()
	admitted.Status = v1alpha1.SparkJobStatus{}
	if r.opts.Policies != nil {
		var findings []v1alpha1.Finding
		admitted, findings = r.opts.Policies.Apply(admitted)
		if msg := errorFindings(findings); msg != "" {
			return reconcile.TerminalError(fmt.Errorf("%w: %s", ErrPolicyViolation, msg))
		}
		if admitted == nil {
			return reconcile.TerminalError(fmt.Errorf("%w: the policies returned no job", ErrPolicyViolation))
		}
	}
	if msg := errorFindings(admission.Validate(admitted)); msg != "" {
		return reconcile.TerminalError(fmt.Errorf("%w: %s", ErrInvalidSpec, msg))
	}
	rc.admitted = admitted
	rc.hash = runid.SpecHash(admitted)
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
