package reconciler

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// Event reasons on a SparkJob.
const (
	EventRunStarted   = "RunStarted"
	EventRunSucceeded = "RunSucceeded"
	EventRunFailed    = "RunFailed"
)

// runEvent is an event about a run, sent once the status that reports the
// run is written, so a retried reconcile does not send it twice.
type runEvent struct {
	eventType, reason, note string
	run                     v1alpha1.RunStatus
}

// startedRun notes a run this reconcile started.
func (rc *reconciliation) startedRun(run *v1alpha1.RunStatus) {
	note := "run '" + run.Name + "' started (trigger " + string(run.Trigger)
	if run.Revision != "" {
		note += ", revision " + run.Revision
	}
	note += ", app id " + run.AppID
	if run.Attempt > 1 {
		note += fmt.Sprintf(", attempt %d after run '%s'", run.Attempt, run.RetryOf)
	}
	note += ")"
	rc.events = append(rc.events, runEvent{eventType: corev1.EventTypeNormal, reason: EventRunStarted, note: note, run: *run})
	rc.started = append(rc.started, run.Trigger)
}

// ended notes a run this reconcile saw end.
func (rc *reconciliation) ended(run *v1alpha1.RunStatus) {
	e := runEvent{eventType: corev1.EventTypeNormal, reason: EventRunSucceeded, note: "run '" + run.Name + "' succeeded", run: *run}
	if run.Phase == v1alpha1.RunFailed {
		e.eventType, e.reason = corev1.EventTypeWarning, EventRunFailed
		e.note = "run '" + run.Name + "' failed"
		if run.Reason != "" {
			e.note += ": " + run.Reason
		}
		if run.Message != "" {
			e.note += ": " + run.Message
		}
	}
	rc.events = append(rc.events, e)
}

// emit sends the events of a reconcile whose status was written, and
// counts the runs it started and ended.
func (r *JobReconciler) emit(rc *reconciliation) {
	for _, e := range rc.events {
		r.recorder.Eventf(rc.job, nil, e.eventType, e.reason, "Run", "%s", e.note)
		switch e.reason {
		case EventRunStarted:
			runsStarted.WithLabelValues(rc.job.Namespace, string(e.run.Trigger)).Inc()
		case EventRetrying:
			runRetries.WithLabelValues(rc.job.Namespace, rc.job.Name, e.run.Reason).Inc()
		case EventRetriesExhausted, EventDrifted, EventRunLimitExceeded:
		default:
			runsFinished.WithLabelValues(rc.job.Namespace, string(e.run.Phase), e.run.Reason).Inc()
		}
	}
}
