package reconciler

import "errors"

var (
	// ErrInvalidSpec is wrapped by the terminal error of a SparkJob that
	// fails validation; the job is Stalled until its spec changes.
	ErrInvalidSpec = errors.New("invalid spec")
	// ErrPolicyViolation is wrapped by the terminal error of a SparkJob an
	// AllocationPolicy rejects; the job is Stalled until its spec or the
	// policies change.
	ErrPolicyViolation = errors.New("policy violation")
	// ErrInvalidSchedule is wrapped by the terminal error of a SparkJob
	// whose schedule the Scheduler cannot read.
	ErrInvalidSchedule = errors.New("invalid schedule")
	// ErrInvalidOptions means a loop was built with options it cannot
	// run with.
	ErrInvalidOptions = errors.New("invalid options")
	// ErrSecretNotFound means the Secret a JobSource names does not exist.
	ErrSecretNotFound = errors.New("secret not found")
	// ErrBuildFailed means the path of a JobSource did not build.
	ErrBuildFailed = errors.New("build failed")
	// ErrNotLeader is wrapped by the error of a write that a replica with
	// leader election refused to send because it could not confirm, within
	// the renew deadline, that it still holds the Lease.
	ErrNotLeader = errors.New("leadership not confirmed")
)
