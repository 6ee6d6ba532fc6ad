package runid

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// DriverContainerName is the name Spark gives the driver's container.
const DriverContainerName = "spark-kubernetes-driver"

// Reasons of a run's phase that sparkcd sets itself; the others come from
// the pod (Evicted, OOMKilled, ImagePullBackOff, CreateContainerConfigError…).
// A kubelet's Evicted and ReasonEvicted share the word; the message tells
// them apart.
const (
	// ReasonDriverPodDeleted: the driver pod went away before it ended.
	ReasonDriverPodDeleted = "DriverPodDeleted"
	// ReasonReplaced: concurrencyPolicy Replace deleted the driver for a
	// newer run.
	ReasonReplaced = "Replaced"
	// ReasonInterrupted: the loop stopped between the driver's create and
	// its dependents', and the spec changed before it came back, so the run
	// could not be completed; its driver was deleted.
	ReasonInterrupted = "Interrupted"
	// ReasonStopped: `sparkcd stop` deleted the driver; no restart policy
	// retries the run.
	ReasonStopped = "Stopped"
	// ReasonUnschedulable: no node fits the driver.
	ReasonUnschedulable = "Unschedulable"
	// ReasonQueued: the run waits for Kueue to admit it
	// (batchScheduler kueue); its driver is held back from the scheduler.
	ReasonQueued = "Queued"
	// ReasonEvicted: Kueue evicted the run's Workload (preempted by a
	// higher-priority Workload, its ClusterQueue stopped…) after its driver
	// was let go, and sparkcd deleted the driver (docs/queueing-kueue.md).
	ReasonEvicted = "Evicted"
)

// benignWaiting are container waiting reasons of a healthy start.
var benignWaiting = map[string]bool{"": true, "ContainerCreating": true, "PodInitializing": true}

// FromPod reads the run a driver pod belongs to — identity, phase, reason,
// start and completion — as the job loop records it, so that the cleanup
// reads a run exactly as the job loop would. now stands in for a completion
// time the pod does not tell.
func FromPod(pod *corev1.Pod, now *metav1.Time) *v1alpha1.RunStatus {
	run := &v1alpha1.RunStatus{
		Name:      NameOf(pod),
		AppID:     pod.Labels[v1alpha1.LabelSparkAppSelector],
		Trigger:   v1alpha1.RunTrigger(pod.Annotations[v1alpha1.AnnotationTrigger]),
		Revision:  pod.Annotations[v1alpha1.AnnotationRevision],
		SpecHash:  pod.Annotations[v1alpha1.AnnotationSpecHash],
		StartTime: pod.CreationTimestamp.DeepCopy(),
		Attempt:   AttemptOf(pod),
		RetryOf:   pod.Annotations[v1alpha1.AnnotationRetryOf],
	}
	run.Phase, run.Reason, run.Message = DriverPhase(pod)
	if msg, ok := pod.Annotations[v1alpha1.AnnotationEvicted]; ok && run.Phase != v1alpha1.RunSucceeded {
		run.Phase, run.Reason, run.Message = v1alpha1.RunFailed, ReasonEvicted, msg
	}
	if Finished(run) {
		run.CompletionTime = completionTime(pod, now)
	}
	foldQueue(pod, run)
	return run
}

// foldQueue records the Kueue queue of a run and how long it waited there:
// a pending driver still held by sparkcd.io/queue is Queued, and the
// sparkcd.io/admitted-at annotation written when it was let go gives the
// queueing time.
func foldQueue(pod *corev1.Pod, run *v1alpha1.RunStatus) {
	queue := pod.Annotations[v1alpha1.AnnotationQueue]
	if queue == "" {
		return
	}
	run.Queue = queue
	if at, err := time.Parse(time.RFC3339, pod.Annotations[v1alpha1.AnnotationAdmittedAt]); err == nil {
		secs := int64(max(at.Sub(pod.CreationTimestamp.Time), 0) / time.Second)
		run.QueuedSeconds = &secs
		return
	}
	if run.Phase == v1alpha1.RunPending && QueueGated(pod) {
		run.Reason = ReasonQueued
		run.Message = fmt.Sprintf("waiting for admission in Kueue LocalQueue '%s'", queue)
	}
}

// QueueGated reports whether a driver pod is still held back for its
// queue's admission.
func QueueGated(pod *corev1.Pod) bool {
	for _, g := range pod.Spec.SchedulingGates {
		if g.Name == v1alpha1.SchedulingGateQueue {
			return true
		}
	}
	return false
}

// AttemptOf is the attempt number a driver pod's sparkcd.io/attempt
// annotation gives, 0 when it has none: the first attempt of its trigger.
func AttemptOf(pod *corev1.Pod) int32 {
	n, err := strconv.ParseInt(pod.Annotations[v1alpha1.AnnotationAttempt], 10, 32)
	if err != nil || n < 2 {
		return 0
	}
	return int32(n)
}

// NameOf is the run a driver pod belongs to: its sparkcd.io/run label,
// else its name without "-driver".
func NameOf(pod *corev1.Pod) string {
	if name := pod.Labels[v1alpha1.LabelRun]; name != "" {
		return name
	}
	return strings.TrimSuffix(pod.Name, "-driver")
}

// DriverPhase maps the driver pod's status to a run phase with the reason
// a person needs: why it waits, or why it failed.
func DriverPhase(pod *corev1.Pod) (v1alpha1.RunPhase, string, string) {
	c := driverStatus(pod)
	switch pod.Status.Phase {
	case corev1.PodSucceeded:
		return v1alpha1.RunSucceeded, "", ""
	case corev1.PodFailed:
		if pod.Status.Reason != "" {
			return v1alpha1.RunFailed, pod.Status.Reason, pod.Status.Message
		}
		if c != nil && c.State.Terminated != nil {
			t := c.State.Terminated
			reason := t.Reason
			if reason == "" {
				reason = "Error"
			}
			msg := fmt.Sprintf("driver exited with code %d", t.ExitCode)
			if t.Message != "" {
				msg += ": " + t.Message
			}
			return v1alpha1.RunFailed, reason, msg
		}
		return v1alpha1.RunFailed, "Error", pod.Status.Message
	case corev1.PodRunning:
		return v1alpha1.RunRunning, "", ""
	case corev1.PodUnknown:
		return v1alpha1.RunUnknown, pod.Status.Reason, pod.Status.Message
	}
	// Pending, or no phase yet.
	for _, cs := range append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
		if w := cs.State.Waiting; w != nil && !benignWaiting[w.Reason] {
			return v1alpha1.RunPending, w.Reason, w.Message
		}
	}
	for _, cond := range pod.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason == corev1.PodReasonUnschedulable {
			return v1alpha1.RunPending, ReasonUnschedulable, cond.Message
		}
	}
	return v1alpha1.RunPending, "", ""
}

// driverStatus returns the status of the driver's container: the one Spark
// names, else the first.
func driverStatus(pod *corev1.Pod) *corev1.ContainerStatus {
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == DriverContainerName {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	if len(pod.Status.ContainerStatuses) > 0 {
		return &pod.Status.ContainerStatuses[0]
	}
	return nil
}

// completionTime is when the driver's container ended, else when the pod
// stopped being ready, else now.
func completionTime(pod *corev1.Pod, now *metav1.Time) *metav1.Time {
	if c := driverStatus(pod); c != nil && c.State.Terminated != nil && !c.State.Terminated.FinishedAt.IsZero() {
		return c.State.Terminated.FinishedAt.DeepCopy()
	}
	for _, cond := range pod.Status.Conditions {
		if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionFalse && !cond.LastTransitionTime.IsZero() {
			return cond.LastTransitionTime.DeepCopy()
		}
	}
	return now.DeepCopy()
}

// ExecutorActive reports whether an executor pod counts as live.
func ExecutorActive(pod *corev1.Pod) bool {
	return pod.DeletionTimestamp == nil && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

// Finished reports whether a run's driver has ended.
func Finished(run *v1alpha1.RunStatus) bool {
	return run.Phase == v1alpha1.RunSucceeded || run.Phase == v1alpha1.RunFailed
}

// Newer orders runs newest first, as status.history lists them: by start
// time, then an active run before a finished one (which, started in the
// same second, ended to make room for it), then by name. A run known only
// by name sorts as the oldest.
func Newer(a, b *v1alpha1.RunStatus) bool {
	switch {
	case a.StartTime == nil && b.StartTime != nil:
		return false
	case a.StartTime != nil && b.StartTime == nil:
		return true
	case a.StartTime != nil && !a.StartTime.Equal(b.StartTime):
		return b.StartTime.Before(a.StartTime)
	case Finished(a) != Finished(b):
		return !Finished(a)
	}
	return a.Name > b.Name
}
