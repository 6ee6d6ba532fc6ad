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
