package v1alpha1

// RestartPolicyType says whether a run that ended is followed by another
// attempt. The names and meanings are the Spark Operator's (v1beta2).
// +kubebuilder:validation:Enum=Never;OnFailure;Always
type RestartPolicyType string

// The restart policy types.
const (
	// RestartNever: a run that ends is not followed by another attempt.
	// The default.
	RestartNever RestartPolicyType = "Never"
	// RestartOnFailure: a run that fails is followed by another attempt,
	// up to onFailureRetries times; a driver the API server refuses to
	// create is tried again up to onSubmissionFailureRetries times.
	RestartOnFailure RestartPolicyType = "OnFailure"
	// RestartAlways: a run that ends, succeeded or failed, is followed by
	// another attempt, without limit; failures in a row back off
	// exponentially.
	RestartAlways RestartPolicyType = "Always"
)

// DefaultRetryIntervalSeconds is the retry interval of OnFailure and
// Always when the policy leaves it unset, as the Spark Operator defaults
// it.
const DefaultRetryIntervalSeconds int64 = 5

// RestartPolicy says if and when a run that ended is followed by a new
// attempt: a new run, with its own driver, named after the run it follows.
// docs/restarts.md has the full semantics.
type RestartPolicy struct {
	// Type is Never (the default), OnFailure or Always.
	// +optional
	Type RestartPolicyType `json:"type,omitempty"`
	// OnSubmissionFailureRetries is how many times, with type OnFailure,
	// a driver pod the API server refused to create (a quota, an admission
	// webhook, pod security) is tried again before the run is given up as
	// failed. Unset means 0: the first refusal fails the run.
	// +kubebuilder:validation:Minimum=0
	// +optional
	OnSubmissionFailureRetries *int32 `json:"onSubmissionFailureRetries,omitempty"`
	// OnFailureRetries is how many new attempts, with type OnFailure,
	// follow a failed run before the job gives up. Unset means 0: no retry.
	// +kubebuilder:validation:Minimum=0
	// +optional
	OnFailureRetries *int32 `json:"onFailureRetries,omitempty"`
	// OnSubmissionFailureRetryInterval is the interval, in seconds, between
	// tries of a refused driver create. Defaults to 5.
	// +kubebuilder:validation:Minimum=1
	// +optional
	OnSubmissionFailureRetryInterval *int64 `json:"onSubmissionFailureRetryInterval,omitempty"`
	// OnFailureRetryInterval is the interval, in seconds, between a failed
	// run and its next attempt. Defaults to 5.
	// +kubebuilder:validation:Minimum=1
	// +optional
	OnFailureRetryInterval *int64 `json:"onFailureRetryInterval,omitempty"`
}

// Kind is the policy's type, Never when p is nil or leaves it unset.
func (p *RestartPolicy) Kind() RestartPolicyType {
	if p == nil || p.Type == "" {
		return RestartNever
	}
	return p.Type
}

// FailureRetries is onFailureRetries, 0 when unset.
func (p *RestartPolicy) FailureRetries() int32 {
	if p == nil || p.OnFailureRetries == nil {
		return 0
	}
	return *p.OnFailureRetries
}

// SubmissionRetries is onSubmissionFailureRetries, 0 when unset.
func (p *RestartPolicy) SubmissionRetries() int32 {
	if p == nil || p.OnSubmissionFailureRetries == nil {
		return 0
	}
	return *p.OnSubmissionFailureRetries
}

// FailureInterval is onFailureRetryInterval in seconds, defaulted.
func (p *RestartPolicy) FailureInterval() int64 {
	if p == nil || p.OnFailureRetryInterval == nil || *p.OnFailureRetryInterval < 1 {
		return DefaultRetryIntervalSeconds
	}
	return *p.OnFailureRetryInterval
}

// SubmissionInterval is onSubmissionFailureRetryInterval in seconds,
// defaulted.
func (p *RestartPolicy) SubmissionInterval() int64 {
	if p == nil || p.OnSubmissionFailureRetryInterval == nil || *p.OnSubmissionFailureRetryInterval < 1 {
		return DefaultRetryIntervalSeconds
	}
	return *p.OnSubmissionFailureRetryInterval
}

// effectiveRestartPolicy is nil for a policy that restarts nothing: type
// Never (or unset), whose retry settings have no effect, as in the Spark
// Operator. Writing it out or leaving it away is then the same spec, with
// the same spec hash, and starts no run.
func effectiveRestartPolicy(p *RestartPolicy) *RestartPolicy {
	if p.Kind() == RestartNever {
		return nil
	}
	return p
}
