package admission

import "github.com/sparkcd/sparkcd/api/v1alpha1"

// Policies are the platform's policies a job is judged against:
// *policies.Set is one, and so is the cluster's live set of
// AllocationPolicies. Apply returns the job with the policies' defaults
// filled in and their findings; a finding of severity error refuses it.
type Policies interface {
	Apply(job *v1alpha1.SparkJob) (*v1alpha1.SparkJob, []v1alpha1.Finding)
}

// Versioned policies say which version of themselves judges now, so that a
// cache of verdicts knows when to judge again. Policies that do not change
// need not implement it.
type Versioned interface {
	Version() string
}

// VersionOf is p's version, or "" for policies that never change (nil
// included).
func VersionOf(p Policies) string {
	if v, ok := p.(Versioned); ok {
		return v.Version()
	}
	return ""
}
