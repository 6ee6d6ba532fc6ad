package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// RunPhase is the phase of a run, from its driver pod.
type RunPhase string

// The phases of a run.
const (
	RunPending   RunPhase = "Pending"
	RunRunning   RunPhase = "Running"
	RunSucceeded RunPhase = "Succeeded"
	RunFailed    RunPhase = "Failed"
	RunUnknown   RunPhase = "Unknown"
)

// RunTrigger is what started a run.
type RunTrigger string

// The run triggers.
const (
	TriggerCommit   RunTrigger = "commit"
	TriggerSchedule RunTrigger = "schedule"
	TriggerManual   RunTrigger = "manual"
)

// RunStatus describes one run of a job.
type RunStatus struct {
	// Name of the run; the driver pod is named <name>-driver.
	Name string `json:"name"`
	// AppID is the run's spark.app.id.
	// +optional
	AppID string `json:"appID,omitempty"`
	// Trigger is what started the run.
	// +optional
	Trigger RunTrigger `json:"trigger,omitempty"`
	// Revision of the source the run's spec came from.
	// +optional
	Revision string `json:"revision,omitempty"`
	// SpecHash of the spec the run started with.
	// +optional
	SpecHash string `json:"specHash,omitempty"`
	// Phase of the driver.
	// +optional
	Phase RunPhase `json:"phase,omitempty"`
	// Reason for the phase, such as ImagePullBackOff or OOMKilled.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message gives details.
	// +optional
	Message string `json:"message,omitempty"`
	// StartTime is when the driver pod was created.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// CompletionTime is when the driver finished.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// Executors is the number of executor pods seen last.
	// +optional
	Executors int32 `json:"executors,omitempty"`
	// Attempt is the run's attempt number under spec.restartPolicy: 1 (or
	// unset) for the run a commit, a schedule tick or a manual request
	// started, k+1 for the attempt that followed attempt k.
	// +optional
	Attempt int32 `json:"attempt,omitempty"`
	// RetryOf is the run whose end started this attempt.
	// +optional
	RetryOf string `json:"retryOf,omitempty"`
	// Queue is the Kueue LocalQueue the run was queued in
	// (batchScheduler kueue).
	// +optional
	Queue string `json:"queue,omitempty"`
	// QueuedSeconds is how long the run waited in its queue for
	// admission, once admitted.
	// +optional
	QueuedSeconds *int64 `json:"queuedSeconds,omitempty"`
	// Insight is the run's executor timeline and reserved resources
	// (docs/run-insight.md).
	// +optional
	Insight *RunInsight `json:"insight,omitempty"`
}

// NextAttempt is the attempt spec.restartPolicy starts next, and when.
type NextAttempt struct {
	// Run is the name the attempt's run will have.
	Run string `json:"run"`
	// Attempt is its attempt number.
	Attempt int32 `json:"attempt"`
	// Time is when it starts, at the earliest.
	Time metav1.Time `json:"time"`
	// After is the run whose end is retried; empty for a retried submission.
	// +optional
	After string `json:"after,omitempty"`
	// SubmissionFailures counts the creates of the attempt's driver the
	// API server refused so far.
	// +optional
	SubmissionFailures int32 `json:"submissionFailures,omitempty"`
	// Message says why the attempt is needed.
	// +optional
	Message string `json:"message,omitempty"`
}

// SparkJobStatus is the observed state of a SparkJob.
type SparkJobStatus struct {
	// Conditions: Ready, Reconciling, Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// ObservedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// LastAppliedRevision is the source revision of the current spec.
	// +optional
	LastAppliedRevision string `json:"lastAppliedRevision,omitempty"`
	// SpecHash identifies the rendered spec, policies applied.
	// +optional
	SpecHash string `json:"specHash,omitempty"`
	// LastRun is the most recent run.
	// +optional
	LastRun *RunStatus `json:"lastRun,omitempty"`
	// ActiveRuns are the runs whose driver has not finished.
	// +optional
	ActiveRuns []string `json:"activeRuns,omitempty"`
	// History of finished runs, newest first, kept after their pods are gone.
	// +optional
	History []RunStatus `json:"history,omitempty"`
	// LastScheduleTime is the last schedule tick that started a run.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`
	// NextScheduleTime is the next schedule tick.
	// +optional
	NextScheduleTime *metav1.Time `json:"nextScheduleTime,omitempty"`
	// NextAttempt is the attempt spec.restartPolicy starts next: after a
	// run that ended, or after a refused driver create.
	// +optional
	NextAttempt *NextAttempt `json:"nextAttempt,omitempty"`
	// LastHandledRunRequest is the value of the run-requested-at annotation
	// last acted on.
	// +optional
	LastHandledRunRequest string `json:"lastHandledRunRequest,omitempty"`
}
