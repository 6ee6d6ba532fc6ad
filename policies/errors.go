package policies

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. A *PolicyError wraps one of them, so callers can tell
// the kinds of problem apart with errors.Is.
var (
	// ErrNoPolicies means a directory or a list of files held no
	// AllocationPolicy at all: a policy directory that enforces nothing is
	// far more likely a wrong path than an intent.
	ErrNoPolicies = errors.New("no allocation policies found")
	// ErrMalformed means a document is not valid YAML, or not a mapping.
	ErrMalformed = errors.New("malformed document")
	// ErrWrongKind means a document is not a sparkcd.io/v1alpha1
	// AllocationPolicy.
	ErrWrongKind = errors.New("not a sparkcd.io/v1alpha1 AllocationPolicy")
	// ErrUnknownField means a document carries a field the
	// AllocationPolicy API does not have, usually a typo.
	ErrUnknownField = errors.New("unknown field")
	// ErrDuplicateName means two policies share a name.
	ErrDuplicateName = errors.New("duplicate policy name")
	// ErrInvalidValue means a field holds a value that does not parse or is
	// out of range.
	ErrInvalidValue = errors.New("invalid value")
	// ErrTooLarge means a policy file is larger than MaxFileBytes.
	ErrTooLarge = errors.New("file is too large")
)

// PolicyError is one problem with one policy. It names where the policy was
// read from, the policy and the field, as far as they are known, so the
// platform team can go straight to the line to fix.
type PolicyError struct {
	// File the policy was read from; empty for policies that did not come
	// from a file.
	File string
	// Document is the 1-based position of the policy in a multi-document
	// File; 0 when the file holds a single document.
	Document int
	// Policy is the policy's name; empty when it could not be read.
	Policy string
	// Field is the path of the offending field, such as
	// "spec.rules.maxExecutors"; empty when the problem is the whole
	// document.
	Field string
	// Err says what is wrong; it wraps one of the sentinel errors.
	Err error
}

// Error implements error.
func (e *PolicyError) Error() string {
	var parts []string
	if e.File != "" {
		f := fmt.Sprintf("'%s'", e.File)
		if e.Document > 0 {
			f += fmt.Sprintf(" document %d", e.Document)
		}
		parts = append(parts, f)
	}
	if e.Policy != "" {
		parts = append(parts, fmt.Sprintf("policy '%s'", e.Policy))
	}
	if e.Field != "" {
		parts = append(parts, fmt.Sprintf("field '%s'", e.Field))
	}
	parts = append(parts, e.Err.Error())
	return strings.Join(parts, ": ")
}

// Unwrap returns the underlying error.
func (e *PolicyError) Unwrap() error { return e.Err }

// fieldError builds a PolicyError for one field of one policy.
func fieldError(policy, field string, sentinel error, format string, args ...any) *PolicyError {
	return &PolicyError{
		Policy: policy,
		Field:  field,
		Err:    fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...)),
	}
}

// joinPolicyErrors joins policy errors into one error, nil when there are
// none.
func joinPolicyErrors(errs []*PolicyError) error {
	if len(errs) == 0 {
		return nil
	}
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}
