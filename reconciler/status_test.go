package reconciler_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/runid"
)

// phaseWant is what a run in a phase leaves on its SparkJob.
type phaseWant struct {
	phase             v1alpha1.RunPhase
	reason            string
	ready             metav1.ConditionStatus
	readyReason       string
	reconciling       bool
	stalled           bool
	messageContaining string
}

// runPhaseCase is one case of TestRunPhases.
type runPhaseCase struct {
	name  string
	steps []func(*corev1.PodStatus)
	want  phaseWant
}

// runPhaseCases are driver pods that run, succeed, fail (OOM, eviction)
// or wait (image pull, container config).
func runPhaseCases() []runPhaseCase {
	return []runPhaseCase{
		{
			name:  "running",
			steps: []func(*corev1.PodStatus){running},
			want:  phaseWant{phase: v1alpha1.RunRunning, ready: metav1.ConditionUnknown, readyReason: meta.ProgressingReason, reconciling: true},
		},
		{
			name:  "succeeded",
			steps: []func(*corev1.PodStatus){running, succeeded},
			want:  phaseWant{phase: v1alpha1.RunSucceeded, ready: metav1.ConditionTrue, readyReason: reconciler.ReasonRunSucceeded},
		},
		{
			name:  "oom killed",
			steps: []func(*corev1.PodStatus){running, terminated(corev1.PodFailed, "OOMKilled", 137)},
			want: phaseWant{phase: v1alpha1.RunFailed, reason: "OOMKilled", ready: metav1.ConditionFalse, readyReason: "OOMKilled",
				stalled: true, messageContaining: "exited with code 137"},
		},
		{
			name: "evicted",
			steps: []func(*corev1.PodStatus){running, func(s *corev1.PodStatus) {
				s.Phase, s.Reason, s.Message = corev1.PodFailed, "Evicted", "The node was low on resource: memory."
			}},
			want: phaseWant{phase: v1alpha1.RunFailed, reason: "Evicted", ready: metav1.ConditionFalse, readyReason: "Evicted",
				stalled: true, messageContaining: "low on resource"},
		},
		{
			name:  "image pull back-off",
			steps: []func(*corev1.PodStatus){waitingFor("ImagePullBackOff", `Back-off pulling image "apache/spark:3.5.3"`)},
			want: phaseWant{phase: v1alpha1.RunPending, reason: "ImagePullBackOff", ready: metav1.ConditionFalse, readyReason: "ImagePullBackOff",
				reconciling: true, messageContaining: "Back-off pulling image"},
		},
		{
			name:  "create container config error",
			steps: []func(*corev1.PodStatus){waitingFor("CreateContainerConfigError", `secret "s3-credentials" not found`)},
			want: phaseWant{phase: v1alpha1.RunPending, reason: "CreateContainerConfigError", ready: metav1.ConditionFalse,
				readyReason: "CreateContainerConfigError", reconciling: true, messageContaining: "s3-credentials"},
		},
	}
}

// TestRunPhases moves a driver pod through its phases as a kubelet would
// and checks the SparkJob's last run, history and conditions follow.
func TestRunPhases(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	startLoop(t, e, reconciler.JobOptions{}, ns)

	for i, tt := range runPhaseCases() {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("phases-%d", i)
			if err := e.Client.Create(context.Background(), piJob(t, ns, name)); err != nil {
				t.Fatal(err)
			}
			run := lastRunIn(t, e, ns, name, v1alpha1.RunPending)
			for _, step := range tt.steps {
				setPodStatus(t, e, ns, runid.DriverPodName(run.Name), step)
			}
			job := waitJob(t, e, ns, name, "the run's "+string(tt.want.phase)+" phase", func(j *v1alpha1.SparkJob) bool {
				r := j.Status.LastRun
				return r != nil && r.Phase == tt.want.phase && r.Reason == tt.want.reason
			})
			assertConditions(t, job, tt.want.ready, tt.want.readyReason, tt.want.reconciling, tt.want.stalled)
			ready := apimeta.FindStatusCondition(job.Status.Conditions, meta.ReadyCondition)
			if !strings.Contains(ready.Message, tt.want.messageContaining) {
				t.Errorf("Ready message %q does not contain %q", ready.Message, tt.want.messageContaining)
			}
			if job.Status.ObservedGeneration != job.Generation {
				t.Errorf("observedGeneration %d, want %d", job.Status.ObservedGeneration, job.Generation)
			}
			switch tt.want.phase {
			case v1alpha1.RunSucceeded, v1alpha1.RunFailed:
				if len(job.Status.ActiveRuns) != 0 || len(job.Status.History) != 1 || job.Status.History[0].Name != run.Name ||
					job.Status.LastRun.CompletionTime == nil {
					t.Errorf("a finished run: activeRuns %v, history %+v, lastRun %+v", job.Status.ActiveRuns, job.Status.History, job.Status.LastRun)
				}
				waitEvent(t, e, ns, name, "Run"+string(tt.want.phase))
			default:
				if len(job.Status.ActiveRuns) != 1 || job.Status.ActiveRuns[0] != run.Name || len(job.Status.History) != 0 {
					t.Errorf("an active run: activeRuns %v, history %+v", job.Status.ActiveRuns, job.Status.History)
				}
			}
		})
	}
}

func waitingFor(reason, message string) func(*corev1.PodStatus) {
	return func(s *corev1.PodStatus) {
		s.Phase = corev1.PodPending
		s.ContainerStatuses = []corev1.ContainerStatus{{
			Name: "spark-kubernetes-driver", Image: "apache/spark:3.5.3",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}},
		}}
	}
}

// assertConditions checks Ready's status and reason, and that Reconciling
// and Stalled are present (True) exactly when wanted.
func assertConditions(t testing.TB, job *v1alpha1.SparkJob, ready metav1.ConditionStatus, readyReason string, reconciling, stalled bool) {
	t.Helper()
	c := apimeta.FindStatusCondition(job.Status.Conditions, meta.ReadyCondition)
	if c == nil || c.Status != ready || c.Reason != readyReason {
		t.Errorf("Ready = %+v, want %s %s", c, ready, readyReason)
	}
	if got := apimeta.IsStatusConditionTrue(job.Status.Conditions, meta.ReconcilingCondition); got != reconciling {
		t.Errorf("Reconciling = %v, want %v (%s)", got, reconciling, statusSummary(job))
	}
	if got := apimeta.IsStatusConditionTrue(job.Status.Conditions, meta.StalledCondition); got != stalled {
		t.Errorf("Stalled = %v, want %v (%s)", got, stalled, statusSummary(job))
	}
}

// waitEvent waits for an event with reason about the SparkJob.
func waitEvent(t testing.TB, e *testenv.Env, ns, job, reason string) {
	t.Helper()
	eventually(t, "a "+reason+" event", func() (bool, string) {
		events := &eventsv1.EventList{}
		if err := e.Client.List(context.Background(), events, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, ev := range events.Items {
			if ev.Regarding.Name == job && ev.Regarding.Kind == v1alpha1.SparkJobKind {
				if ev.Reason == reason {
					return true, ""
				}
				seen = append(seen, ev.Reason)
			}
		}
		return false, fmt.Sprintf("events: %v", seen)
	})
}

// TestExecutorCount: the last run's executors are the live executor pods
// labelled with its spark-app-selector.
func TestExecutorCount(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	startLoop(t, e, reconciler.JobOptions{}, ns)
	ctx := context.Background()
	if err := e.Client.Create(ctx, piJob(t, ns, "execs")); err != nil {
		t.Fatal(err)
	}
	run := lastRunIn(t, e, ns, "execs", v1alpha1.RunPending)
	setPodStatus(t, e, ns, runid.DriverPodName(run.Name), running)
	driver := &corev1.Pod{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: runid.DriverPodName(run.Name)}, driver); err != nil {
		t.Fatal(err)
	}
	// Executors as Spark creates them from the pod template: the
	// template's labels, Spark's own, an ownerReference to the driver.
	for i := 1; i <= 3; i++ {
		exec := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name: fmt.Sprintf("%s-exec-%d", run.Name, i), Namespace: ns,
				Labels: map[string]string{
					v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue, v1alpha1.LabelJob: "execs", v1alpha1.LabelRun: run.Name,
					v1alpha1.LabelSparkRole: v1alpha1.RoleExecutor, v1alpha1.LabelSparkAppSelector: run.AppID, "spark-exec-id": fmt.Sprint(i),
				},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: driver.Name, UID: driver.UID}},
			},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "spark-kubernetes-executor", Image: "apache/spark:3.5.3"}}},
		}
		if err := e.Client.Create(ctx, exec); err != nil {
			t.Fatal(err)
		}
	}
	waitJob(t, e, ns, "execs", "3 executors", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun != nil && j.Status.LastRun.Phase == v1alpha1.RunRunning && j.Status.LastRun.Executors == 3
	})
	setPodStatus(t, e, ns, run.Name+"-exec-3", terminated(corev1.PodFailed, "Error", 1))
	waitJob(t, e, ns, "execs", "2 executors", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun != nil && j.Status.LastRun.Executors == 2
	})
	// The count stays what it was last seen once the run ends.
	setPodStatus(t, e, ns, runid.DriverPodName(run.Name), succeeded)
	job := waitJob(t, e, ns, "execs", "the run to succeed", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun != nil && j.Status.LastRun.Phase == v1alpha1.RunSucceeded
	})
	if job.Status.LastRun.Executors != 2 {
		t.Errorf("executors of the finished run = %d, want 2", job.Status.LastRun.Executors)
	}
}
