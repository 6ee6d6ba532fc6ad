package reconciler_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	resourcehelper "k8s.io/component-helpers/resource"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/runid"
)

// TestRunInsight: a run whose executors go 1 → 5 → 1 — real pods made as
// a Spark driver makes them, ended and deleted as a kubelet and Spark end
// them — records a timeline that rises to 5 and falls back to 1, a peak
// of 5, and the cpu and memory its driver and executors reserved, within
// 1 % of what the pods' own timestamps give: creation to the containers'
// termination, and to the run's completion for the executor still live
// when the driver ended. The kubelet here reports terminations some
// minutes on, so that the lifetimes are long next to the API's one-second
// timestamps without the test waiting for them.
func TestRunInsight(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	startLoop(t, e, reconciler.JobOptions{}, ns)
	ctx := context.Background()
	if err := e.Client.Create(ctx, piJob(t, ns, "insight")); err != nil {
		t.Fatal(err)
	}
	run := lastRunIn(t, e, ns, "insight", v1alpha1.RunPending)
	setPodStatus(t, e, ns, runid.DriverPodName(run.Name), running)
	driver := &corev1.Pod{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: runid.DriverPodName(run.Name)}, driver); err != nil {
		t.Fatal(err)
	}

	execs := make([]*corev1.Pod, 5)
	for i := range execs {
		execs[i] = createExecutor(t, e, driver, "insight", run, i+1)
		want := int32(i + 1)
		if i == 0 || i == 4 {
			waitJob(t, e, ns, "insight", fmt.Sprintf("%d executors", want), func(j *v1alpha1.SparkJob) bool {
				return j.Status.LastRun != nil && j.Status.LastRun.Executors == want
			})
		}
	}
	// Executors 2 to 5 end 30 to 60 seconds after their creation, and
	// Spark deletes them.
	ends := make([]time.Time, len(execs))
	for i, ex := range execs[1:] {
		ends[i+1] = ex.CreationTimestamp.Add(time.Duration(30+10*i) * time.Second)
		setPodStatus(t, e, ns, ex.Name, finishedAt(corev1.PodSucceeded, "spark-kubernetes-executor", ends[i+1]))
		if err := e.Client.Delete(ctx, ex); err != nil {
			t.Fatal(err)
		}
	}
	waitJob(t, e, ns, "insight", "1 executor", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun != nil && j.Status.LastRun.Executors == 1
	})
	setPodStatus(t, e, ns, driver.Name, finishedAt(corev1.PodSucceeded, "spark-kubernetes-driver", driver.CreationTimestamp.Add(120*time.Second)))
	job := waitJob(t, e, ns, "insight", "the run to succeed", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun != nil && j.Status.LastRun.Phase == v1alpha1.RunSucceeded
	})
	last := job.Status.LastRun
	in := last.Insight
	if in == nil {
		t.Fatalf("no insight: %s", statusSummary(job))
	}
	if in.PeakExecutors != 5 {
		t.Errorf("peak = %d, want 5", in.PeakExecutors)
	}
	t.Logf("insight: %+v", *in)
	assertRisesAndFalls(t, in.Timeline.Points(), 1, 5, 1)

	// What the pods' own timestamps give.
	start, end := last.StartTime.Time, last.CompletionTime.Time
	var want v1alpha1.Reserved
	ends[0] = end
	for i, ex := range execs {
		want = addLifetime(want, ex, ex.CreationTimestamp.Time, ends[i])
	}
	wantDriver := addLifetime(v1alpha1.Reserved{}, driver, start, end)
	within(t, "executor core-seconds", float64(in.Executors.MilliCoreSeconds), float64(want.MilliCoreSeconds))
	within(t, "executor MiB-seconds", float64(in.Executors.MiBSeconds), float64(want.MiBSeconds))
	within(t, "driver core-seconds", float64(in.Driver.MilliCoreSeconds), float64(wantDriver.MilliCoreSeconds))
	within(t, "driver MiB-seconds", float64(in.Driver.MiBSeconds), float64(wantDriver.MiBSeconds))
	if in.DurationSeconds != 120 || wantDriver.MilliCoreSeconds != 120_000 {
		t.Errorf("duration = %ds, driver = %+v; want 120s, 120 core-seconds", in.DurationSeconds, wantDriver)
	}
	first := int64(execs[0].CreationTimestamp.Sub(start) / time.Second)
	if in.FirstExecutorSeconds == nil || *in.FirstExecutorSeconds != first {
		t.Errorf("time to first executor = %v, want %ds", in.FirstExecutorSeconds, first)
	}
}

// createExecutor creates executor i of a run as a Spark driver does: the
// pod template's labels and Spark's own, an ownerReference to the driver,
// requests of 1 cpu and 1g + 384Mi overhead, scheduled to a node.
func createExecutor(t testing.TB, e *testenv.Env, driver *corev1.Pod, job string, run v1alpha1.RunStatus, i int) *corev1.Pod {
	t.Helper()
	exec := executorPod(driver, job, run, i)
	if err := e.Client.Create(context.Background(), exec); err != nil {
		t.Fatal(err)
	}
	return exec
}

// executorPod is executor i of a run, as createExecutor creates it.
func executorPod(driver *corev1.Pod, job string, run v1alpha1.RunStatus, i int) *corev1.Pod {
	mem := resource.MustParse("1408Mi")
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("%s-exec-%d", run.Name, i), Namespace: driver.Namespace,
			Labels: map[string]string{
				v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue, v1alpha1.LabelJob: job, v1alpha1.LabelRun: run.Name,
				v1alpha1.LabelSparkRole: v1alpha1.RoleExecutor, v1alpha1.LabelSparkAppSelector: run.AppID, "spark-exec-id": fmt.Sprint(i),
			},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: driver.Name, UID: driver.UID}},
		},
		Spec: corev1.PodSpec{
			NodeName: "node-1",
			Containers: []corev1.Container{{
				Name: "spark-kubernetes-executor", Image: "apache/spark:3.5.3",
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: mem},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: mem},
				},
			}},
		},
	}
}

// finishedAt is the status a kubelet writes for a pod whose container
// ended at the time given.
func finishedAt(phase corev1.PodPhase, container string, at time.Time) func(*corev1.PodStatus) {
	return func(s *corev1.PodStatus) {
		s.Phase = phase
		s.ContainerStatuses = []corev1.ContainerStatus{{
			Name: container, Image: "apache/spark:3.5.3",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				Reason: "Completed", StartedAt: metav1.NewTime(at.Add(-time.Second)), FinishedAt: metav1.NewTime(at),
			}},
		}}
	}
}

// addLifetime adds a pod's requests × the time from start to end.
func addLifetime(sum v1alpha1.Reserved, pod *corev1.Pod, start, end time.Time) v1alpha1.Reserved {
	reqs := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
	secs := end.Sub(start).Seconds()
	sum.MilliCoreSeconds += int64(float64(reqs.Cpu().MilliValue()) * secs)
	sum.MiBSeconds += int64(float64(reqs.Memory().Value()) / (1 << 20) * secs)
	return sum
}

// within fails unless got is within 1 % of want.
func within(t testing.TB, what string, got, want float64) {
	t.Helper()
	if want == 0 && got == 0 {
		return
	}
	if d := (got - want) / want; d > 0.01 || d < -0.01 {
		t.Errorf("%s = %.0f, want %.0f ± 1%%", what, got, want)
	}
}

// assertRisesAndFalls checks that a timeline starts at from, rises
// without falling to peak, and falls without rising to to.
func assertRisesAndFalls(t testing.TB, tl []v1alpha1.ExecutorPoint, from, peak, to int32) {
	t.Helper()
	if len(tl) == 0 || tl[0].Executors != from || tl[len(tl)-1].Executors != to {
		t.Fatalf("timeline = %+v, want it to go %d → %d → %d", tl, from, peak, to)
	}
	top := 0
	for i, p := range tl {
		if p.Executors > tl[top].Executors {
			top = i
		}
		if i > 0 && p.OffsetMillis < tl[i-1].OffsetMillis {
			t.Errorf("timeline = %+v: point %d is before point %d", tl, i, i-1)
		}
	}
	if tl[top].Executors != peak {
		t.Errorf("timeline = %+v, peaks at %d, want %d", tl, tl[top].Executors, peak)
	}
	for i := 1; i < len(tl); i++ {
		if (i <= top && tl[i].Executors < tl[i-1].Executors) || (i > top && tl[i].Executors > tl[i-1].Executors) {
			t.Errorf("timeline = %+v, want it to rise to %d and then fall", tl, peak)
			break
		}
	}
}

// TestRunInsightRestart: sparkcd stopped and started again during a run
// goes on from the record in the status: the executor that ended before
// the restart is counted once, the live one from its creation, the one
// started after from its creation.
func TestRunInsightRestart(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	first := startLoop(t, e, reconciler.JobOptions{}, ns)
	ctx := context.Background()
	if err := e.Client.Create(ctx, piJob(t, ns, "restarted")); err != nil {
		t.Fatal(err)
	}
	run := lastRunIn(t, e, ns, "restarted", v1alpha1.RunPending)
	setPodStatus(t, e, ns, runid.DriverPodName(run.Name), running)
	driver := &corev1.Pod{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: runid.DriverPodName(run.Name)}, driver); err != nil {
		t.Fatal(err)
	}
	execs := []*corev1.Pod{createExecutor(t, e, driver, "restarted", run, 1), createExecutor(t, e, driver, "restarted", run, 2)}
	waitJob(t, e, ns, "restarted", "2 executors", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun != nil && j.Status.LastRun.Executors == 2
	})
	ends := []time.Time{execs[0].CreationTimestamp.Add(40 * time.Second)}
	setPodStatus(t, e, ns, execs[0].Name, finishedAt(corev1.PodSucceeded, "spark-kubernetes-executor", ends[0]))
	waitJob(t, e, ns, "restarted", "executor 1 recorded as ended", func(j *v1alpha1.SparkJob) bool {
		in := j.Status.LastRun.Insight
		return in != nil && in.Executors.MilliCoreSeconds >= 40_000 && in.Timeline.Len() > 0 && in.Timeline.Executors[in.Timeline.Len()-1] == 1
	})
	first.stop()

	startLoop(t, e, reconciler.JobOptions{}, ns)
	execs = append(execs, createExecutor(t, e, driver, "restarted", run, 3))
	waitJob(t, e, ns, "restarted", "2 executors after the restart", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun.Executors == 2
	})
	setPodStatus(t, e, ns, driver.Name, finishedAt(corev1.PodSucceeded, "spark-kubernetes-driver", driver.CreationTimestamp.Add(120*time.Second)))
	job := waitJob(t, e, ns, "restarted", "the run to succeed", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun.Phase == v1alpha1.RunSucceeded
	})
	last := job.Status.LastRun
	end := last.CompletionTime.Time
	ends = append(ends, end, end)
	var want v1alpha1.Reserved
	for i, ex := range execs {
		want = addLifetime(want, ex, ex.CreationTimestamp.Time, ends[i])
	}
	t.Logf("insight: %+v", *last.Insight)
	within(t, "executor core-seconds", float64(last.Insight.Executors.MilliCoreSeconds), float64(want.MilliCoreSeconds))
	within(t, "executor MiB-seconds", float64(last.Insight.Executors.MiBSeconds), float64(want.MiBSeconds))
	if last.Insight.PeakExecutors != 2 {
		t.Errorf("peak = %d, want 2", last.Insight.PeakExecutors)
	}
	var counts []int32
	for _, p := range last.Insight.Timeline.Points() {
		counts = append(counts, p.Executors)
	}
	if diff := cmp.Diff([]int32{1, 2, 1, 2}, counts); diff != "" {
		t.Errorf("timeline counts across the restart (-want +got):\n%s", diff)
	}
}

// TestTimelineValidated: the API server refuses a status whose timeline's
// two lists differ in length, naming the field.
func TestTimelineValidated(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	ctx := context.Background()
	job := piJob(t, ns, "timeline")
	if err := e.Client.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	job.Status.LastRun = &v1alpha1.RunStatus{Name: "timeline-1", Phase: v1alpha1.RunRunning, Insight: &v1alpha1.RunInsight{
		Timeline: &v1alpha1.ExecutorTimeline{OffsetsMillis: []int64{10, 20}, Executors: []int32{1}}}}
	err := e.Client.Status().Update(ctx, job)
	if err == nil || !strings.Contains(err.Error(), "status.lastRun.insight.timeline") || !strings.Contains(err.Error(), "same length") {
		t.Fatalf("status update with 2 offsets and 1 count: %v; want it refused, naming status.lastRun.insight.timeline", err)
	}
}
