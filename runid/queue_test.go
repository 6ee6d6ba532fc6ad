package runid

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

func TestFoldQueue(t *testing.T) {
	created := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	gate := []corev1.PodSchedulingGate{{Name: v1alpha1.SchedulingGateDependents}, {Name: v1alpha1.SchedulingGateQueue}}
	secs := int64(75)
	tests := []struct {
		name        string
		annotations map[string]string
		gates       []corev1.PodSchedulingGate
		phase       corev1.PodPhase
		want        v1alpha1.RunStatus
	}{
		{name: "not queued", phase: corev1.PodPending,
			want: v1alpha1.RunStatus{Phase: v1alpha1.RunPending}},
		{name: "waiting for admission", annotations: map[string]string{v1alpha1.AnnotationQueue: "team"}, gates: gate, phase: corev1.PodPending,
			want: v1alpha1.RunStatus{Phase: v1alpha1.RunPending, Queue: "team", Reason: ReasonQueued, Message: "waiting for admission in Kueue LocalQueue 'team'"}},
		{name: "admitted", annotations: map[string]string{v1alpha1.AnnotationQueue: "team", v1alpha1.AnnotationAdmittedAt: "2026-12-03T10:01:15Z"}, phase: corev1.PodRunning,
			want: v1alpha1.RunStatus{Phase: v1alpha1.RunRunning, Queue: "team", QueuedSeconds: &secs}},
		{name: "admission time unreadable", annotations: map[string]string{v1alpha1.AnnotationQueue: "team", v1alpha1.AnnotationAdmittedAt: "soon"}, phase: corev1.PodRunning,
			want: v1alpha1.RunStatus{Phase: v1alpha1.RunRunning, Queue: "team"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "pi-1-driver", CreationTimestamp: metav1.NewTime(created), Annotations: tt.annotations},
				Spec:       corev1.PodSpec{SchedulingGates: tt.gates},
				Status:     corev1.PodStatus{Phase: tt.phase},
			}
			got := FromPod(pod, &metav1.Time{Time: created})
			want := tt.want
			want.Name, want.StartTime = "pi-1", &metav1.Time{Time: created}
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Errorf("FromPod (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFromPodEvicted: a driver sparkcd marked as evicted by Kueue reads as
// Failed with reason Evicted and the recorded message, running or
// terminated by the delete; one that succeeded keeps its success.
func TestFromPodEvicted(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 12, 3, 10, 5, 0, 0, time.UTC))
	msg := "Kueue evicted Workload 'pi-1' of LocalQueue 'team': Preempted; the driver pod was deleted"
	for _, tt := range []struct {
		phase      corev1.PodPhase
		wantPhase  v1alpha1.RunPhase
		wantReason string
	}{
		{corev1.PodRunning, v1alpha1.RunFailed, ReasonEvicted},
		{corev1.PodFailed, v1alpha1.RunFailed, ReasonEvicted},
		{corev1.PodSucceeded, v1alpha1.RunSucceeded, ""},
	} {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "pi-1-driver", Annotations: map[string]string{v1alpha1.AnnotationQueue: "team", v1alpha1.AnnotationEvicted: msg}},
			Status:     corev1.PodStatus{Phase: tt.phase},
		}
		run := FromPod(pod, &now)
		if run.Phase != tt.wantPhase || run.Reason != tt.wantReason || run.CompletionTime == nil {
			t.Errorf("%s driver: run %s %s %q completed %v, want %s %s", tt.phase, run.Phase, run.Reason, run.Message, run.CompletionTime, tt.wantPhase, tt.wantReason)
		}
		if tt.wantReason == ReasonEvicted && run.Message != msg {
			t.Errorf("%s driver: message %q, want %q", tt.phase, run.Message, msg)
		}
	}
}
