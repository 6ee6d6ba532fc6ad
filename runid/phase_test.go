package runid

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

func TestDriverPhase(t *testing.T) {
	tests := []struct {
		name   string
		status corev1.PodStatus
		phase  v1alpha1.RunPhase
		reason string
	}{
		{name: "no status yet", phase: v1alpha1.RunPending},
		{
			name:   "creating",
			status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{waitingStatus("ContainerCreating")}},
			phase:  v1alpha1.RunPending,
		},
		{
			name:   "image pull",
			status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{waitingStatus("ErrImagePull")}},
			phase:  v1alpha1.RunPending, reason: "ErrImagePull",
		},
		{
			name:   "init container config error",
			status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{waitingStatus("CreateContainerConfigError")}},
			phase:  v1alpha1.RunPending, reason: "CreateContainerConfigError",
		},
		{
			name: "unschedulable",
			status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
				Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: "0/3 nodes are available",
			}}},
			phase: v1alpha1.RunPending, reason: ReasonUnschedulable,
		},
		{name: "running", status: corev1.PodStatus{Phase: corev1.PodRunning}, phase: v1alpha1.RunRunning},
		{name: "succeeded", status: corev1.PodStatus{Phase: corev1.PodSucceeded}, phase: v1alpha1.RunSucceeded},
		{
			name:   "evicted",
			status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"},
			phase:  v1alpha1.RunFailed, reason: "Evicted",
		},
		{
			name: "oom killed in the driver, not the sidecar",
			status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
				{Name: "sidecar", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}},
				{Name: DriverContainerName, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}}},
			}},
			phase: v1alpha1.RunFailed, reason: "OOMKilled",
		},
		{
			name: "exit code without reason",
			status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
				{Name: DriverContainerName, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}},
			}},
			phase: v1alpha1.RunFailed, reason: "Error",
		},
		{name: "unknown", status: corev1.PodStatus{Phase: corev1.PodUnknown, Reason: "NodeLost"}, phase: v1alpha1.RunUnknown, reason: "NodeLost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			phase, reason, _ := DriverPhase(&corev1.Pod{Status: tt.status})
			if phase != tt.phase || reason != tt.reason {
				t.Errorf("driverPhase = %s %q, want %s %q", phase, reason, tt.phase, tt.reason)
			}
		})
	}
}

func waitingStatus(reason string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: DriverContainerName, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
}
