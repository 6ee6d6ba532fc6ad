package reconciler

import (
	"errors"
	"fmt"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/message"
	"github.com/sparkcd/sparkcd/runid"
)

// Condition reasons of a SparkJob, besides fluxcd's generic ones
// (Succeeded, Progressing, ProgressingWithRetry, Suspended,
// ReconciliationFailed) and the run reasons in phase.go.
const (
	// ReasonValidationFailed: the spec is invalid (Stalled).
	ReasonValidationFailed = "ValidationFailed"
	// ReasonPolicyViolation: an AllocationPolicy rejects the job (Stalled).
	ReasonPolicyViolation = "PolicyViolation"
	// ReasonInvalidSchedule: the schedule cannot be read (Stalled).
	ReasonInvalidSchedule = "InvalidSchedule"
	// ReasonSchedulerDisabled: the job has a schedule and this sparkcd runs
	// no scheduler; only manual runs start (Stalled).
	ReasonSchedulerDisabled = "SchedulerDisabled"
	// ReasonWaitingForActiveRun: a due run waits for the active one to end
	// (concurrencyPolicy Forbid). The job is healthy and busy, as while a
	// run is active: Reconciling, Ready=Unknown (kstatus InProgress), not
	// Ready=False.
	ReasonWaitingForActiveRun = "WaitingForActiveRun"
	// ReasonServiceAccountNotFound: the driver's service account is missing.
	ReasonServiceAccountNotFound = "ServiceAccountNotFound"
	// ReasonDriverForbidden: the driver's service account may not run
	// executors.
	ReasonDriverForbidden = "DriverForbidden"
	// ReasonRunPending, ReasonRunRunning: the last run is active.
	ReasonRunPending = "RunPending"
	ReasonRunRunning = "RunRunning"
	// ReasonRunSucceeded: the last run succeeded.
	ReasonRunSucceeded = "RunSucceeded"
	// ReasonRunFailed: the last run failed (Stalled until the next run).
	ReasonRunFailed = "RunFailed"
	// ReasonSourceRejected: the job's latest version in git was not
	// applied (it does not decode, validate or pass a policy); the job
	// keeps running its last admitted spec (Stalled until a commit fixes
	// it: the job, not its source, is what failed).
	ReasonSourceRejected = "SourceRejected"
)

// Condition reasons of a JobSource, besides fluxcd's generic ones.
const (
	// ReasonGitOperationFailed: the fetch failed; the last good revision
	// stays applied and nothing in the cluster changes.
	ReasonGitOperationFailed = "GitOperationFailed"
	// ReasonAuthenticationFailed: the Secret of spec.secretRef is missing
	// or holds no usable credentials.
	ReasonAuthenticationFailed = "AuthenticationFailed"
	// ReasonStorageFailed: the git cache directory (--cache-dir) refused a
	// write — read-only, full, or not writable by sparkcd; the message
	// names the directory and the errno. The last good revision stays
	// applied, and the fetch is retried until the storage is fixed.
	ReasonStorageFailed = "StorageFailed"
	// ReasonBuildFailed: the path did not build; nothing was applied
	// (Stalled until the next revision).
	ReasonBuildFailed = "BuildFailed"
	// ReasonJobsRejected: some jobs were not applied; the others were.
	// A rejected job is a finding, not a failed source: Ready=True with
	// this reason (kstatus Current), status.jobs lists the findings, a
	// warning event and sparkcd_source_findings count them, and each
	// rejected SparkJob that exists is Stalled, reason SourceRejected.
	// Stalled only when no SparkJob or supporting object of the source is
	// in sync: a source that delivers nothing has failed.
	ReasonJobsRejected = "JobsRejected"
	// ReasonPruneBlocked: the revision would prune too much, and pruned
	// nothing (Stalled until a later revision or sparkcd.io/allow-prune).
	ReasonPruneBlocked = "PruneBlocked"
	// ReasonVerificationFailed: spec.verify refused the revision (a commit
	// unsigned or not signed by a trusted key: Stalled until a later
	// revision or other keys), or its key Secret is missing or holds no
	// key (retried). Nothing is applied or pruned; the last applied
	// revision stays.
	ReasonVerificationFailed = "VerificationFailed"
)

// summarize sets the conditions from how the reconcile ended, kstatus
// style (docs/status.md has the table): Stalled (abnormal-true) when
// nothing will change until the spec or git does — an invalid spec, a
// version git holds that was rejected, a failed run; Reconciling
// (abnormal-true) while work is under way — a run pending or running, a
// due run waiting for the active one, a retry; Ready otherwise reports
// the last run. Ready=False only says something is wrong: a job busy
// with its runs is Ready=Unknown.
// observedGeneration moves once this generation's reconcile has reached
// an end, a success or a stall, so tools never read a stale verdict as
// current.
func (r *JobReconciler) summarize(rc *reconciliation, err error) {
	job := rc.job
	defer foldSourceRejection(rc)
	switch {
	case err != nil && isTerminal(err):
		reason, msg := stallReason(err), boundMessage(err.Error())
		conditions.MarkStalled(job, reason, "%s", msg)
		conditions.MarkFalse(job, meta.ReadyCondition, reason, "%s", msg)
		job.Status.ObservedGeneration = job.Generation
		return
	case err != nil:
		// A conflict means the status read was stale: the next attempt
		// has the truth, and flapping the conditions would only write.
		if isConflict(err) {
			rc.job.Status = *rc.base.Status.DeepCopy()
			return
		}
		msg := boundMessage(err.Error())
		conditions.MarkReconciling(job, meta.ProgressingWithRetryReason, "%s", msg)
		conditions.MarkFalse(job, meta.ReadyCondition, retryReason(err), "%s", msg)
		return
	}

	if rc.drift != nil {
		// The spec is not in effect: it is not the one from git.
		markDrifted(rc)
		return
	}
	job.Status.ObservedGeneration = job.Generation
	if rc.wait != nil {
		msg := boundMessage(rc.wait.message)
		conditions.MarkReconciling(job, rc.wait.reason, "%s", msg)
		if rc.wait.reason == ReasonWaitingForActiveRun {
			// Busy, not broken: the active run is the work under way.
			conditions.MarkUnknown(job, meta.ReadyCondition, rc.wait.reason, "%s", msg)
		} else {
			conditions.MarkFalse(job, meta.ReadyCondition, rc.wait.reason, "%s", msg)
		}
		// The spec is not in effect until the run starts.
		job.Status.ObservedGeneration = rc.base.Status.ObservedGeneration
		return
	}
	if rc.suspended {
		markReady(job, meta.SuspendedReason, "suspended: no run starts until spec.suspend is false")
		return
	}
	if rc.retry != nil {
		// Not stalled: spec.restartPolicy starts a new attempt by itself.
		msg := boundMessage(rc.retry.message)
		conditions.MarkReconciling(job, rc.retry.reason, "%s", msg)
		conditions.MarkFalse(job, meta.ReadyCondition, rc.retry.reason, "%s", msg)
		return
	}
	if job.Spec.Schedule != "" && r.opts.Scheduler == nil && job.Status.LastRun == nil {
		msg := boundMessage("this sparkcd runs no scheduler: the job starts only on manual request")
		conditions.MarkStalled(job, ReasonSchedulerDisabled, "%s", msg)
		conditions.MarkFalse(job, meta.ReadyCondition, ReasonSchedulerDisabled, "%s", msg)
		return
	}
	summarizeLastRun(job, rc)
}

// summarizeLastRun reports the last run in the conditions.
func summarizeLastRun(job *v1alpha1.SparkJob, rc *reconciliation) {
	run := job.Status.LastRun
	if run == nil {
		msg := "no run yet"
		if !rc.nextTick.IsZero() {
			msg = "next run at " + rc.nextTick.UTC().Format("2006-01-02T15:04:05Z")
		}
		markReady(job, meta.SucceededReason, msg)
		return
	}
	switch run.Phase {
	case v1alpha1.RunSucceeded:
		markReady(job, ReasonRunSucceeded, fmt.Sprintf("run '%s' succeeded", run.Name))
	case v1alpha1.RunFailed:
		msg := fmt.Sprintf("run '%s' failed", run.Name)
		if run.Reason != "" {
			msg += ": " + run.Reason
		}
		if run.Message != "" {
			msg += ": " + run.Message
		}
		reason := run.Reason
		if reason == "" {
			reason = ReasonRunFailed
		}
		msg = boundMessage(msg)
		conditions.MarkStalled(job, ReasonRunFailed, "%s", msg)
		conditions.MarkFalse(job, meta.ReadyCondition, reason, "%s", msg)
	default:
		reason, msg := ReasonRunPending, fmt.Sprintf("run '%s' is pending", run.Name)
		if run.Phase == v1alpha1.RunRunning {
			reason, msg = ReasonRunRunning, runningMessage(run)
		}
		if run.Reason == runid.ReasonQueued {
			// Waiting for the queue's admission is work under way, not a
			// stuck driver (docs/queueing-kueue.md).
			msg = boundMessage(fmt.Sprintf("run '%s' is queued: %s", run.Name, run.Message))
			conditions.MarkUnknown(job, meta.ReadyCondition, runid.ReasonQueued, "%s", msg)
			conditions.MarkReconciling(job, runid.ReasonQueued, "%s", msg)
			return
		}
		if run.Reason != "" {
			msg += ": " + run.Reason
			if run.Message != "" {
				msg += ": " + run.Message
			}
			// The driver is stuck (an image that cannot be pulled, a
			// missing secret…): Ready says why.
			conditions.MarkFalse(job, meta.ReadyCondition, run.Reason, "%s", boundMessage(msg))
		} else {
			conditions.MarkUnknown(job, meta.ReadyCondition, meta.ProgressingReason, "%s", boundMessage(msg))
		}
		conditions.MarkReconciling(job, reason, "%s", boundMessage(msg))
	}
}

// foldSourceRejection reports the source loop's rejection of the job's
// latest version in git (the sparkcd.io/source-rejected annotation) as
// Ready=False and Stalled, reason SourceRejected: the job runs its last
// admitted spec, which is not what git says, and only a commit changes
// that — kstatus reads the job as Failed, while its source, which applied
// the rest, stays Ready. The annotation goes away with the next revision
// that admits the job, and the conditions with it.
func foldSourceRejection(rc *reconciliation) {
	msg, ok := rc.job.Annotations[AnnotationSourceRejected]
	if !ok {
		return
	}
	if conditions.IsFalse(rc.job, meta.ReadyCondition) && conditions.GetReason(rc.job, meta.ReadyCondition) != ReasonSourceRejected {
		// A failure of the running spec says more; keep it.
		return
	}
	msg = boundMessage("the latest version in git is not applied: " + msg)
	conditions.MarkStalled(rc.job, ReasonSourceRejected, "%s", msg)
	conditions.MarkFalse(rc.job, meta.ReadyCondition, ReasonSourceRejected, "%s", msg)
}

// stallReason names the reason of a terminal error.
func stallReason(err error) string {
	switch {
	case errors.Is(err, ErrPolicyViolation):
		return ReasonPolicyViolation
	case errors.Is(err, ErrInvalidSchedule):
		return ReasonInvalidSchedule
	case errors.Is(err, ErrRunIdentityRefused):
		return ReasonRunIdentityRefused
	default:
		return ReasonValidationFailed
	}
}

// The kinds whose conditions the conditions package sets.
var (
	_ conditions.Setter = (*v1alpha1.SparkJob)(nil)
	_ conditions.Setter = (*v1alpha1.JobSource)(nil)
	_ conditions.Setter = (*v1alpha1.AllocationPolicy)(nil)
)

// maxMessageLength bounds condition messages: the API allows 32768 bytes
// (the bound of the conditions package), but a status that long is
// unreadable and makes every status write heavy.
const maxMessageLength = 4096

// boundMessage cuts msg to maxMessageLength bytes, at a clause or word end
// with brackets and quotes kept closed (message.Bound). Every condition message
// of a SparkJob, JobSource or AllocationPolicy goes through it, passed to
// the conditions package's Mark functions as the argument of a "%s"
// format, so a '%' in a message (an error, a git message) stays as it is.
func boundMessage(msg string) string {
	return message.Bound(msg, maxMessageLength)
}

// markReady sets Ready=True and removes Reconciling and Stalled, kstatus
// style: the object is current and nothing is under way.
func markReady(obj conditions.Setter, reason, msg string) {
	conditions.MarkTrue(obj, meta.ReadyCondition, reason, "%s", boundMessage(msg))
	conditions.Delete(obj, meta.ReconcilingCondition)
	conditions.Delete(obj, meta.StalledCondition)
}

// runningMessage is the Ready and Reconciling message of a running run,
// which names its executor count (status_pace.go sets the count aside).
func runningMessage(run *v1alpha1.RunStatus) string {
	return fmt.Sprintf("run '%s' is running with %d executors", run.Name, run.Executors)
}
