package reconciler

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestEndOf: an executor's reservation ends at its containers'
// termination, else at the deletion asked, else when the watch saw it go.
func TestEndOf(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := t0.Add(time.Hour)
	deleted := metav1.NewTime(t0.Add(40 * time.Second))
	tests := []struct {
		name string
		pod  corev1.Pod
		want time.Time
	}{
		{"gone without trace", corev1.Pod{}, now},
		{"deletion asked, 30s grace", corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &deleted, DeletionGracePeriodSeconds: ptr.To[int64](30)}}, t0.Add(10 * time.Second)},
		{"terminated, then deleted", corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &deleted, DeletionGracePeriodSeconds: ptr.To[int64](30)},
			Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
				{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(t0.Add(5 * time.Second))}}},
			}},
		}, t0.Add(5 * time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := endOf(&tt.pod, now); !got.Equal(tt.want) {
				t.Errorf("endOf = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestCompress: a timeline longer than its bound merges its closest
// neighbours, keeps the larger count (the peak survives), its first time
// and its last point.
func TestCompress(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	in := []point{{at(0), 1}, {at(10), 2}, {at(11), 9}, {at(30), 3}, {at(31), 1}, {at(60), 0}}
	got := compress(append([]point(nil), in...), 4)
	want := []point{{at(0), 1}, {at(10), 9}, {at(30), 3}, {at(60), 0}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(point{})); diff != "" {
		t.Errorf("compress (-want +got):\n%s", diff)
	}
	long := make([]point, 1000)
	for i := range long {
		long[i] = point{at(i), int32(i % 7)}
	}
	long[500].n = 50
	got = compress(long, 128)
	if len(got) != 128 || got[len(got)-1] != (point{at(999), 999 % 7}) || !got[0].at.Equal(t0) {
		t.Fatalf("compressed to %d points, first %v, last %v", len(got), got[0], got[len(got)-1])
	}
	peak := int32(0)
	for _, p := range got {
		peak = max(peak, p.n)
	}
	if peak != 50 {
		t.Errorf("peak after compression = %d, want 50", peak)
	}
}
