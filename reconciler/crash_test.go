package reconciler_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/cronjobs/schedule"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/runid"
)

// crashPoint is one write of a run's start, after which the loop dies.
type crashPoint struct {
	name string
	// method, resource and subresource of the write's request.
	method, resource, sub string
}

// The writes of a run's start, in order.
var crashPoints = []crashPoint{
	{name: "driver", method: http.MethodPost, resource: "pods"},
	{name: "configmap", method: http.MethodPost, resource: "configmaps"},
	{name: "service", method: http.MethodPost, resource: "services"},
	{name: "release", method: http.MethodPatch, resource: "pods"},
	{name: "status", method: http.MethodPatch, resource: "sparkjobs", sub: "status"},
}

// crasher lets a loop's requests through until the first successful write
// that matches its point, and then fails every request, as if the process
// had been killed the moment that write returned: nothing more reaches the
// API server.
type crasher struct {
	ns    string
	point crashPoint
	dead  atomic.Bool
	once  sync.Once
	died  chan struct{}
}

func newCrasher(ns string, p crashPoint) *crasher {
	return &crasher{ns: ns, point: p, died: make(chan struct{})}
}

func (c *crasher) wrap(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if c.dead.Load() {
			return nil, errors.New("sparkcd was killed")
		}
		resp, err := next.RoundTrip(req)
		if err == nil && resp.StatusCode < 300 && c.matches(req) {
			c.dead.Store(true)
			c.once.Do(func() { close(c.died) })
		}
		return resp, err
	})
}

// matches reports whether req is the point's write in the crasher's
// namespace: /api/v1/namespaces/<ns>/<resource>[/<name>[/<sub>]].
func (c *crasher) matches(req *http.Request) bool {
	if req.Method != c.point.method {
		return false
	}
	_, rest, ok := strings.Cut(req.URL.Path, "/namespaces/"+c.ns+"/")
	if !ok {
		return false
	}
	parts := strings.Split(rest, "/")
	sub := ""
	if len(parts) > 2 {
		sub = parts[2]
	}
	return parts[0] == c.point.resource && sub == c.point.sub
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// crashLoop runs a job loop on ns until it dies at p, and returns once it
// has stopped.
func crashLoop(t *testing.T, ns string, p crashPoint, opts reconciler.JobOptions) {
	t.Helper()
	e := env.Env(t)
	c := newCrasher(ns, p)
	mgr, _ := jobLoopManager(t, e, opts, []string{ns}, c.wrap)
	stop := runManager(t, mgr)
	select {
	case <-c.died:
	case <-time.After(waitTimeout):
		t.Fatalf("the loop never made its %s write", p.name)
	}
	stop()
}

// checkNoHalfMadeDriver holds the invariant while sparkcd is down: every
// driver pod of ns is either still gated (no kubelet can see it) or has its
// ConfigMap and Service. It returns how many drivers are gated.
func checkNoHalfMadeDriver(t *testing.T, ns string) (gatedDrivers int) {
	t.Helper()
	e := env.Env(t)
	ctx := t.Context()
	pods := &corev1.PodList{}
	if err := e.Client.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelSparkRole: v1alpha1.RoleDriver}); err != nil {
		t.Fatal(err)
	}
	for _, pod := range pods.Items {
		if hasGate(&pod) {
			gatedDrivers++
			continue
		}
		run := pod.Labels[v1alpha1.LabelRun]
		for _, dep := range []client.Object{
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: runid.ConfigMapName(run)}},
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: runid.ServiceName(run, pod.Labels[v1alpha1.LabelSparkAppSelector])}},
		} {
			if err := e.Client.Get(ctx, client.ObjectKeyFromObject(dep), dep); err != nil {
				t.Errorf("driver %s is released to the scheduler without its %T: %v", pod.Name, dep, err)
			}
		}
	}
	return gatedDrivers
}

func hasGate(pod *corev1.Pod) bool {
	for _, g := range pod.Spec.SchedulingGates {
		if g.Name == v1alpha1.SchedulingGateDependents {
			return true
		}
	}
	return false
}

// dependentsMade reports whether the run's ConfigMap and Service both
// exist: the loop creates them at the same time, so a loop that died
// right after one of them may or may not have made the other.
func dependentsMade(t *testing.T, ns string, run runid.Identity) bool {
	t.Helper()
	e := env.Env(t)
	for _, dep := range []client.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: runid.ConfigMapName(run.Name)}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: runid.ServiceName(run.Name, run.AppID)}},
	} {
		err := e.Client.Get(t.Context(), client.ObjectKeyFromObject(dep), dep)
		if apierrors.IsNotFound(err) {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return true
}

// waitCompleteDriver waits until run has exactly one driver among the
// job's, released, with its ConfigMap and Service owned by it.
func waitCompleteDriver(t *testing.T, ns, job, run string) {
	t.Helper()
	e := env.Env(t)
	eventually(t, "run "+run+" complete and released", func() (bool, string) {
		var names []string
		var driver *corev1.Pod
		for _, pod := range drivers(t, e, ns, job) {
			names = append(names, pod.Name)
			if pod.Labels[v1alpha1.LabelRun] == run {
				driver = &pod
			}
		}
		if driver == nil || hasGate(driver) {
			return false, fmt.Sprintf("drivers %v", names)
		}
		for _, dep := range []client.Object{
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: runid.ConfigMapName(run)}},
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: runid.ServiceName(run, driver.Labels[v1alpha1.LabelSparkAppSelector])}},
		} {
			if err := e.Client.Get(t.Context(), client.ObjectKeyFromObject(dep), dep); err != nil {
				return false, err.Error()
			}
			if ref := metav1.GetControllerOf(dep); ref == nil || ref.UID != driver.UID {
				return false, fmt.Sprintf("%T %s not owned by the driver", dep, dep.GetName())
			}
		}
		return true, ""
	})
}

// TestCrashAfterEachWrite stops the job loop right after each write of a
// run's start in turn — the driver pod, its ConfigMap, its Service, the
// release of its scheduling gate, the SparkJob's status — checks that no
// driver can run half-made while the loop is down, and starts the loop
// again, with the same spec and with a spec changed meanwhile. Outcomes:
//
//	same spec: the run is completed, released and recorded: one driver.
//	spec changed, dependents missing (driver; configmap or service when
//	  the other of the two, created at the same time, did not land): the
//	  gated driver is deleted, the run recorded Failed/Interrupted, the new
//	  spec's run starts.
//	spec changed, dependents made (configmap or service when both landed;
//	  release, status): the run is released and recorded; the new spec's
//	  run waits for it (concurrencyPolicy Forbid) and starts once it ends.
func TestCrashAfterEachWrite(t *testing.T) {
	t.Parallel()
	for _, changed := range []bool{false, true} {
		for _, p := range crashPoints {
			name := p.name + "/same-spec"
			if changed {
				name = p.name + "/spec-changed"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				e := env.Env(t)
				ns := sparkNamespace(t, e)
				ctx := t.Context()
				job := piJob(t, ns, "crash")
				if err := e.Client.Create(ctx, job); err != nil {
					t.Fatal(err)
				}
				first := runid.OfflineRun(job, "")

				crashLoop(t, ns, p, reconciler.JobOptions{})
				gatedDrivers := checkNoHalfMadeDriver(t, ns)
				made := dependentsMade(t, ns, first)
				if changed {
					updateJob(t, e, ns, job.Name, func(j *v1alpha1.SparkJob) { j.Spec.Arguments = []string{"200"} })
				}
				startLoop(t, e, reconciler.JobOptions{}, ns)

				got := outcome(t, ns, job.Name, first, changed, made, p)
				t.Logf("crash after the %s write (%d gated driver left), spec changed %v: %s", p.name, gatedDrivers, changed, got)
			})
		}
	}
}

// outcome waits for and checks what the restarted loop makes of the run
// the crashed one left, and describes it.
func outcome(t *testing.T, ns, name string, first runid.Identity, changed, made bool, p crashPoint) string {
	t.Helper()
	e := env.Env(t)
	if !changed {
		got := lastRunIn(t, e, ns, name, v1alpha1.RunPending)
		if got.Name != first.Name {
			t.Fatalf("last run %s, want the interrupted start's run %s", got.Name, first.Name)
		}
		waitCompleteDriver(t, ns, name, first.Name)
		if job := getJob(t, e, ns, name); len(job.Status.History) != 0 {
			t.Errorf("history %+v, want none", job.Status.History)
		}
		if p.name == "status" {
			// The status was written; only the events that follow it died
			// with the loop.
			return "already recorded; its RunStarted event lost with the loop"
		}
		// The restarted loop reports the start it adopted, once.
		waitEvent(t, e, ns, name, reconciler.EventRunStarted)
		if n := countEvents(t, ns, name, reconciler.EventRunStarted); n != 1 {
			t.Errorf("%d RunStarted events, want 1", n)
		}
		return "completed and recorded, one driver, one RunStarted event"
	}
	second := runid.OfflineRun(getJob(t, e, ns, name), "")
	if !made {
		job := waitJob(t, e, ns, name, "the new spec's run after the interrupted one", func(j *v1alpha1.SparkJob) bool {
			return j.Status.LastRun != nil && j.Status.LastRun.Name == second.Name
		})
		h := job.Status.History
		if len(h) != 1 || h[0].Name != first.Name || h[0].Phase != v1alpha1.RunFailed || h[0].Reason != runid.ReasonInterrupted {
			t.Fatalf("history %+v, want the first run Failed/%s", h, runid.ReasonInterrupted)
		}
		waitCompleteDriver(t, ns, name, second.Name)
		waitEvent(t, e, ns, name, reconciler.EventRunFailed)
		if n := countEvents(t, ns, name, reconciler.EventRunFailed); n != 1 {
			t.Errorf("%d RunFailed events for the interrupted run, want 1", n)
		}
		eventually(t, "only the new run's driver", func() (bool, string) {
			pods := drivers(t, e, ns, name)
			return len(pods) == 1, fmt.Sprintf("%d drivers", len(pods))
		})
		return "gated driver deleted, run Failed/Interrupted (" + h[0].Message + "), the new spec's run started"
	}
	waitCompleteDriver(t, ns, name, first.Name)
	waitJob(t, e, ns, name, "the new spec's run waiting for the first", func(j *v1alpha1.SparkJob) bool {
		c := apimeta.FindStatusCondition(j.Status.Conditions, meta.ReadyCondition)
		return j.Status.LastRun != nil && j.Status.LastRun.Name == first.Name && c != nil && c.Reason == reconciler.ReasonWaitingForActiveRun
	})
	setPodStatus(t, e, ns, runid.DriverPodName(first.Name), succeeded)
	job := waitJob(t, e, ns, name, "the new spec's run after the first ended", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun != nil && j.Status.LastRun.Name == second.Name
	})
	if h := job.Status.History; len(h) != 1 || h[0].Name != first.Name || h[0].Phase != v1alpha1.RunSucceeded {
		t.Fatalf("history %+v, want the first run Succeeded", h)
	}
	waitCompleteDriver(t, ns, name, second.Name)
	return "released and recorded; the new spec's run waited for it (Forbid) and started after it"
}

// TestInterruptedScheduledRunRetried: a scheduled run whose loop died after
// the driver's create, with the spec changed before the loop came back,
// cannot be completed; it fails as Interrupted and its tick, still due,
// runs again under a name derived from the interrupted run's.
func TestInterruptedScheduledRunRetried(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	ctx := t.Context()
	clk := clocktesting.NewFakeClock(time.Now())
	opts := reconciler.JobOptions{Scheduler: schedule.NewScheduler(), Clock: clk}

	job := piJob(t, ns, "nightly", func(j *v1alpha1.SparkJob) { j.Spec.Schedule = hourly })
	if err := e.Client.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	tick := ticks(t, job, 1)[0]
	clk.SetTime(tick.Add(time.Second))
	crashLoop(t, ns, crashPoints[0], opts)
	if n := checkNoHalfMadeDriver(t, ns); n != 1 {
		t.Fatalf("%d gated drivers after the crash, want 1", n)
	}
	updateJob(t, e, ns, job.Name, func(j *v1alpha1.SparkJob) { j.Spec.Arguments = []string{"200"} })
	startLoop(t, e, opts, ns)

	interrupted := runid.ScheduledRunName(job.Name, tick)
	got := waitJob(t, e, ns, job.Name, "the tick run again", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun != nil && j.Status.LastRun.Name != interrupted
	})
	retry := got.Status.LastRun
	if retry.Trigger != v1alpha1.TriggerSchedule || got.Status.LastScheduleTime == nil || !got.Status.LastScheduleTime.Time.Equal(tick) {
		t.Errorf("retry %+v, last schedule time %v: want a schedule run of tick %v", retry, got.Status.LastScheduleTime, tick)
	}
	if h := got.Status.History; len(h) != 1 || h[0].Name != interrupted || h[0].Reason != runid.ReasonInterrupted {
		t.Fatalf("history %+v, want the tick's first run Failed/%s", h, runid.ReasonInterrupted)
	}
	waitCompleteDriver(t, ns, job.Name, retry.Name)
	eventually(t, "the interrupted driver gone", func() (bool, string) {
		err := e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: runid.DriverPodName(interrupted)}, &corev1.Pod{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	t.Logf("tick %s: run %s Interrupted, retried as %s", tick.UTC().Format(time.RFC3339), interrupted, retry.Name)
}

// countEvents counts the events with reason about a SparkJob, each series
// by its count.
func countEvents(t *testing.T, ns, job, reason string) int {
	t.Helper()
	events := &eventsv1.EventList{}
	if err := env.Env(t).Client.List(t.Context(), events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range events.Items {
		if ev.Regarding.Name == job && ev.Regarding.Kind == v1alpha1.SparkJobKind && ev.Reason == reason {
			n++
			if ev.Series != nil {
				n += int(ev.Series.Count) - 1
			}
		}
	}
	return n
}
