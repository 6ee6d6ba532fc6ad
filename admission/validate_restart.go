package admission

import "github.com/sparkcd/sparkcd/api/v1alpha1"

// validateRestartPolicy checks spec.restartPolicy as the CRD's schema
// does, so the offline review refuses what the API server would.
func validateRestartPolicy(f *findings, p *v1alpha1.RestartPolicy) {
	if p == nil {
		return
	}
	switch p.Type {
	case "", v1alpha1.RestartNever, v1alpha1.RestartOnFailure, v1alpha1.RestartAlways:
	default:
		f.errorf(RuleInvalidEnum, "spec.restartPolicy.type", "spec.restartPolicy.type is %s: expected Never, OnFailure or Always", quoted(string(p.Type)))
	}
	for _, c := range []struct {
		path string
		v    *int32
	}{
		{"spec.restartPolicy.onFailureRetries", p.OnFailureRetries},
		{"spec.restartPolicy.onSubmissionFailureRetries", p.OnSubmissionFailureRetries},
	} {
		if c.v != nil && *c.v < 0 {
			f.errorf(RuleInvalidCount, c.path, "%s is %d: expected 0 or more", c.path, *c.v)
		}
	}
	for _, d := range []struct {
		path string
		v    *int64
	}{
		{"spec.restartPolicy.onFailureRetryInterval", p.OnFailureRetryInterval},
		{"spec.restartPolicy.onSubmissionFailureRetryInterval", p.OnSubmissionFailureRetryInterval},
	} {
		if d.v != nil && *d.v < 1 {
			f.errorf(RuleInvalidDuration, d.path, "%s is %d: expected 1 second or more", d.path, *d.v)
		}
	}
}
