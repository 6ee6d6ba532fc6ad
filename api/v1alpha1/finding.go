package v1alpha1

// Severity of a finding.
type Severity string

// The severities.
const (
	// SeverityError keeps a job from being admitted (check exits 1).
	SeverityError Severity = "error"
	// SeverityWarning is reported and admitted.
	SeverityWarning Severity = "warning"
)

// Finding is one problem with one job: a broken validation rule or policy
// rule, or input that could not be understood.
type Finding struct {
	// Severity is error or warning.
	Severity Severity `json:"severity"`
	// Rule is a stable id such as "executor-memory" or "unknown-field".
	Rule string `json:"rule"`
	// Field is the path of the offending field, such as
	// "spec.dynamicAllocation.maxExecutors".
	// +optional
	Field string `json:"field,omitempty"`
	// Message states the value found and the limit.
	Message string `json:"message"`
	// Policy is the name of the AllocationPolicy behind the finding.
	// +optional
	Policy string `json:"policy,omitempty"`
}
