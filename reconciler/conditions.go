package reconciler

import (
	"errors"
	"fmt"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
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
	// (concurrencyPolicy Forbid).
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
)

// summarize sets the conditions from how the reconcile ended, kstatus
// style: Stalled (abnormal-true) when nothing will change until the spec
// does — an invalid spec, a rejected job, a failed run; Reconciling
// (abnormal-true) while work is under way — a run pending or running, a
// run waiting, a retry; Ready otherwise reports the last run.
// observedGeneration moves once this generation's reconcile has reached
// an end, a success or a stall, so tools never read a stale verdict as
// current.
func (r *JobReconciler) summarize(rc *reconciliation, err error) {
	job := rc.job
	switch {
	case err != nil && isTerminal(err):
		reason := stallReason(err)
		msg := err.Error()
		setCondition(job, meta.StalledCondition, metav1.ConditionTrue, reason, msg)
		setCondition(job, meta.ReadyCondition, metav1.ConditionFalse, reason, msg)
		apimeta.RemoveStatusCondition(&job.Status.Conditions, meta.ReconcilingCondition)
		job.Status.ObservedGeneration = job.Generation
		return
	case err != nil:
		// A conflict means the status read was stale: the next attempt
		// has the truth, and flapping the conditions would only write.
		if isConflict(err) {
			rc.job.Status = *rc.base.Status.DeepCopy()
			return
		}
		setCondition(job, meta.ReconcilingCondition, metav1.ConditionTrue, meta.ProgressingWithRetryReason, err.Error())
		setCondition(job, meta.ReadyCondition, metav1.ConditionFalse, meta.ReconciliationFailedReason, err.Error())
		apimeta.RemoveStatusCondition(&job.Status.Conditions, meta.StalledCondition)
		return
	}

	job.Status.ObservedGeneration = job.Generation
	if rc.wait != nil {
		setCondition(job, meta.ReconcilingCondition, metav1.ConditionTrue, rc.wait.reason, rc.wait.message)
		setCondition(job, meta.ReadyCondition, metav1.ConditionFalse, rc.wait.reason, rc.wait.message)
		apimeta.RemoveStatusCondition(&job.Status.Conditions, meta.StalledCondition)
		// The spec is not in effect until the run starts.
		job.Status.ObservedGeneration = rc.base.Status.ObservedGeneration
		return
	}
	if rc.suspended {
		setCondition(job, meta.ReadyCondition, metav1.ConditionTrue, meta.SuspendedReason, "suspended: no run starts until spec.suspend is false")
		apimeta.RemoveStatusCondition(&job.Status.Conditions, meta.ReconcilingCondition)
		apimeta.RemoveStatusCondition(&job.Status.Conditions, meta.StalledCondition)
		return
	}
	if job.Spec.Schedule != "" && r.opts.Scheduler == nil && job.Status.LastRun == nil {
		msg := "this sparkcd runs no scheduler: the job starts only on manual request"
		setCondition(job, meta.StalledCondition, metav1.ConditionTrue, ReasonSchedulerDisabled, msg)
		setCondition(job, meta.ReadyCondition, metav1.ConditionFalse, ReasonSchedulerDisabled, msg)
		apimeta.RemoveStatusCondition(&job.Status.Conditions, meta.ReconcilingCondition)
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
		setCondition(job, meta.ReadyCondition, metav1.ConditionTrue, meta.SucceededReason, msg)
		apimeta.RemoveStatusCondition(&job.Status.Conditions, meta.ReconcilingCondition)
		apimeta.RemoveStatusCondition(&job.Status.Conditions, meta.StalledCondition)
		return
	}
	switch run.Phase {
	case v1alpha1.RunSucceeded:
		setCondition(job, meta.ReadyCondition, metav1.ConditionTrue, ReasonRunSucceeded, fmt.Sprintf("run '%s' succeeded", run.Name))
		apimeta.RemoveStatusCondition(&job.Status.Conditions, meta.ReconcilingCondition)
		apimeta.RemoveStatusCondition(&job.Status.Conditions, meta.StalledCondition)
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
		setCondition(job, meta.StalledCondition, metav1.ConditionTrue, ReasonRunFailed, msg)
		setCondition(job, meta.ReadyCondition, metav1.ConditionFalse, reason, msg)
		apimeta.RemoveStatusCondition(&job.Status.Conditions, meta.ReconcilingCondition)
	default:
		reason, what := ReasonRunPending, "pending"
		if run.Phase == v1alpha1.RunRunning {
			reason, what = ReasonRunRunning, fmt.Sprintf("running with %d executors", run.Executors)
		}
		msg := fmt.Sprintf("run '%s' is %s", run.Name, what)
		if run.Reason != "" {
			msg += ": " + run.Reason
			if run.Message != "" {
				msg += ": " + run.Message
			}
			// The driver is stuck (an image that cannot be pulled, a
			// missing secret…): Ready says why.
			setCondition(job, meta.ReadyCondition, metav1.ConditionFalse, run.Reason, msg)
		} else {
			setCondition(job, meta.ReadyCondition, metav1.ConditionUnknown, meta.ProgressingReason, msg)
		}
		setCondition(job, meta.ReconcilingCondition, metav1.ConditionTrue, reason, msg)
		apimeta.RemoveStatusCondition(&job.Status.Conditions, meta.StalledCondition)
	}
}

// stallReason names the reason of a terminal error.
func stallReason(err error) string {
	switch {
	case errors.Is(err, ErrPolicyViolation):
		return ReasonPolicyViolation
	case errors.Is(err, ErrInvalidSchedule):
		return ReasonInvalidSchedule
	default:
		return ReasonValidationFailed
	}
}

// maxMessageLength bounds condition messages, as the API allows 32768.
const maxMessageLength = 4096

func setCondition(job *v1alpha1.SparkJob, t string, status metav1.ConditionStatus, reason, msg string) {
	if len(msg) > maxMessageLength {
		msg = msg[:maxMessageLength-3] + "..."
	}
	apimeta.SetStatusCondition(&job.Status.Conditions, metav1.Condition{
		Type:               t,
		Status:             status,
		Reason:             reason,
		Message:            msg,
		ObservedGeneration: job.Generation,
	})
}
