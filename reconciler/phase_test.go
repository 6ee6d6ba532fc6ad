package reconciler

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
			phase: v1alpha1.RunPending, reason: RunReasonUnschedulable,
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
				{Name: driverContainer, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}}},
			}},
			phase: v1alpha1.RunFailed, reason: "OOMKilled",
		},
		{
			name: "exit code without reason",
			status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
				{Name: driverContainer, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}},
			}},
			phase: v1alpha1.RunFailed, reason: "Error",
		},
		{name: "unknown", status: corev1.PodStatus{Phase: corev1.PodUnknown, Reason: "NodeLost"}, phase: v1alpha1.RunUnknown, reason: "NodeLost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			phase, reason, _ := driverPhase(&corev1.Pod{Status: tt.status})
			if phase != tt.phase || reason != tt.reason {
				t.Errorf("driverPhase = %s %q, want %s %q", phase, reason, tt.phase, tt.reason)
			}
		})
	}
}

func waitingStatus(reason string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: driverContainer, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
}

func TestWriteRuns(t *testing.T) {
	at := func(min int) *metav1.Time {
		ts := metav1.NewTime(time.Date(2025, 1, 1, 0, min, 0, 0, time.UTC))
		return &ts
	}
	run := func(name string, start int, phase v1alpha1.RunPhase) *v1alpha1.RunStatus {
		return &v1alpha1.RunStatus{Name: name, StartTime: at(start), Phase: phase}
	}
	rc := newReconciliation(&v1alpha1.SparkJob{}, time.Now())
	rc.read = true
	for _, r := range []*v1alpha1.RunStatus{
		run("a", 1, v1alpha1.RunSucceeded),
		run("b", 2, v1alpha1.RunFailed),
		run("c", 3, v1alpha1.RunRunning),
		run("d", 4, v1alpha1.RunSucceeded),
		run("e", 5, v1alpha1.RunPending),
	} {
		rc.runs[r.Name] = r
	}
	rc.writeRuns(2)
	st := rc.job.Status
	if st.LastRun == nil || st.LastRun.Name != "e" {
		t.Errorf("lastRun = %+v, want e", st.LastRun)
	}
	if diff := cmp.Diff([]string{"c", "e"}, st.ActiveRuns); diff != "" {
		t.Errorf("activeRuns, oldest first (-want +got):\n%s", diff)
	}
	var history []string
	for _, h := range st.History {
		history = append(history, h.Name)
	}
	if diff := cmp.Diff([]string{"d", "b"}, history); diff != "" {
		t.Errorf("history, newest first and bounded (-want +got):\n%s", diff)
	}

	// Reading the written status back and writing again changes nothing:
	// the steady state writes nothing.
	again := newReconciliation(rc.job.DeepCopy(), time.Now())
	again.readRecorded()
	again.writeRuns(2)
	if diff := cmp.Diff(rc.job.Status, again.job.Status); diff != "" {
		t.Errorf("status not stable across a read and a write (-first +second):\n%s", diff)
	}
}

func TestErrorFindings(t *testing.T) {
	var findings []v1alpha1.Finding
	for i := range 7 {
		findings = append(findings, v1alpha1.Finding{Severity: v1alpha1.SeverityError, Rule: "r", Field: "spec.f", Message: string(rune('a' + i))})
	}
	findings = append(findings, v1alpha1.Finding{Severity: v1alpha1.SeverityWarning, Message: "ignored"})
	want := "spec.f: a (rule 'r'); spec.f: b (rule 'r'); spec.f: c (rule 'r'); spec.f: d (rule 'r'); spec.f: e (rule 'r'); and 2 more"
	if got := errorFindings(findings); got != want {
		t.Errorf("errorFindings =\n%s\nwant\n%s", got, want)
	}
	if got := errorFindings(findings[7:]); got != "" {
		t.Errorf("warnings only: %q, want none", got)
	}
}
