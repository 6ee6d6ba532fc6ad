package reconciler

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
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

// BenchmarkExecutorBookkeeping: 1,000 runs of 10 executors each — every
// executor's create and delete event recorded and every run's record
// worked out after each — the bookkeeping the job loop adds per executor
// event (ns/op is per run: 10 creates, 10 deletes, 20 folds).
func BenchmarkExecutorBookkeeping(b *testing.B) {
	const runs, execs = 1000, 10
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	pods := make([][]*corev1.Pod, runs)
	for r := range pods {
		for i := range execs {
			pods[r] = append(pods[r], benchExecutor(r, i, start))
		}
	}
	x := newExecutors(clock.RealClock{}, true)
	driver := &requests{milliCPU: 1000, memoryBytes: 1408 << 20}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		r := n % runs
		key := runKey{"spark", pods[r][0].Labels[v1alpha1.LabelSparkAppSelector]}
		var in *v1alpha1.RunInsight
		for _, p := range pods[r] {
			x.observe(p, false)
			in = x.insight(key, "job", start, nil, in, driver)
		}
		for _, p := range pods[r] {
			x.observe(p, true)
			in = x.insight(key, "job", start, nil, in, driver)
		}
		x.forgetEnded(&v1alpha1.SparkJob{ObjectMeta: metav1.ObjectMeta{Namespace: "spark"}, Status: v1alpha1.SparkJobStatus{History: []v1alpha1.RunStatus{{AppID: key.appID}}}})
	}
}

func benchExecutor(run, i int, start time.Time) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "spark", Name: fmt.Sprintf("run-%d-exec-%d", run, i), UID: types.UID(fmt.Sprintf("%d-%d", run, i)),
			CreationTimestamp: metav1.NewTime(start.Add(time.Duration(i) * time.Second)),
			Labels:            map[string]string{v1alpha1.LabelSparkRole: v1alpha1.RoleExecutor, v1alpha1.LabelSparkAppSelector: fmt.Sprintf("spark-%032d", run)},
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1408Mi"),
		}}}}},
	}
}
