package cleanup_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/cronjobs/cleanup"
	"github.com/sparkcd/sparkcd/internal/testenv"
)

// outcome is what a pass should do with a driver: keep it (""), or delete
// it for a reason.
type outcome = cleanup.Reason

const kept outcome = ""

// fixture is the 200 drivers of TestCleanupPass.
type fixture struct {
	drivers []driverSpec
	want    map[string]outcome
	// jobs are the SparkJobs, by namespace/name.
	jobs map[string]*v1alpha1.SparkJob
}

// cleanupFixture builds 200 pods across five namespaces:
//   - 20 SparkJobs in two namespaces, 8 drivers each (4 succeeded, 2
//     failed, 1 running, 1 pending), every other job with a
//     timeToLiveSeconds of two hours, all with history limits 3 and 2;
//   - 20 drivers spark-submit launched (no sparkcd labels) in the
//     allow-listed namespace: 10 expired, 5 recent, 5 running;
//   - 10 old drivers spark-submit launched in a namespace not allow-listed;
//   - 10 old finished pods that are not drivers beside the SparkJobs.
func cleanupFixture(t *testing.T, e *testenv.Env, nsA, nsB, nsC, nsD string) *fixture {
	t.Helper()
	ctx := t.Context()
	f := &fixture{want: map[string]outcome{}, jobs: map[string]*v1alpha1.SparkJob{}}
	add := func(d driverSpec, o outcome) {
		f.drivers = append(f.drivers, d)
		f.want[d.namespace+"/"+d.name] = o
	}
	h := time.Hour
	for i := range 20 {
		ns := nsA
		if i%2 == 1 {
			ns = nsB
		}
		withTTL := i%4 >= 2
		job := sparkJob(ns, fmt.Sprintf("job-%02d", i), func(j *v1alpha1.SparkJob) {
			j.Spec.SuccessfulRunHistoryLimit, j.Spec.FailedRunHistoryLimit = ptr.To[int32](3), ptr.To[int32](2)
			if withTTL {
				j.Spec.TimeToLiveSeconds = ptr.To[int64](7200)
			}
		})
		if err := e.Client.Create(ctx, job); err != nil {
			t.Fatal(err)
		}
		f.jobs[ns+"/"+job.Name] = job
		driver := func(n int, phase corev1.PodPhase, age time.Duration) driverSpec {
			return driverSpec{namespace: ns, name: fmt.Sprintf("%s-%d-driver", job.Name, n), job: job, managed: true, phase: phase, age: age, dependents: true}
		}
		// Succeeded, newest first: the fourth is past the limit of 3.
		if withTTL {
			add(driver(0, corev1.PodSucceeded, 1*h), kept)
			add(driver(1, corev1.PodSucceeded, 3*h), cleanup.ReasonTTLExpired)
			add(driver(2, corev1.PodSucceeded, 5*h), cleanup.ReasonTTLExpired)
		} else {
			add(driver(0, corev1.PodSucceeded, 1*h), kept)
			add(driver(1, corev1.PodSucceeded, 3*h), kept)
			add(driver(2, corev1.PodSucceeded, 5*h), kept)
		}
		add(driver(3, corev1.PodSucceeded, 30*h), cleanup.ReasonHistoryLimit)
		// Failed: both within the limit of 2; the old one past 72h, or past
		// the job's two hours.
		add(driver(4, corev1.PodFailed, 90*time.Minute), kept)
		add(driver(5, corev1.PodFailed, 80*h), cleanup.ReasonTTLExpired)
		add(driver(6, corev1.PodRunning, 100*h), kept)
		add(driver(7, corev1.PodPending, 100*h), kept)
	}
	for i := range 20 {
		d := driverSpec{namespace: nsC, name: fmt.Sprintf("submit-%02d-driver", i), labels: map[string]string{"spark-app-name": "submit"}, dependents: true}
		switch {
		case i < 10:
			d.phase, d.age = corev1.PodSucceeded, 30*h
			add(d, cleanup.ReasonTTLExpired)
		case i < 15:
			d.phase, d.age = corev1.PodSucceeded, 1*h
			add(d, kept)
		default:
			d.phase, d.age = corev1.PodRunning, 100*h
			add(d, kept)
		}
	}
	for i := range 10 {
		add(driverSpec{namespace: nsD, name: fmt.Sprintf("elsewhere-%02d-driver", i), phase: corev1.PodSucceeded, age: 100 * h}, kept)
		add(driverSpec{namespace: nsA, name: fmt.Sprintf("not-a-driver-%02d", i), labels: map[string]string{v1alpha1.LabelSparkRole: "batch"}, phase: corev1.PodFailed, age: 100 * h}, kept)
	}
	if len(f.drivers) != 200 {
		t.Fatalf("the fixture has %d pods, want 200", len(f.drivers))
	}
	return f
}

// TestCleanupPass: 200 drivers with their dependents across namespaces and
// TTLs. A dry run deletes nothing and reports the set a real pass then
// deletes — exactly the expected drivers; the garbage collector removes
// their dependents; no running or pending driver, nor a pod outside the
// scope, is touched; a driver whose run the job loop has not recorded
// waits until it has; the pass never writes a SparkJob; a second pass
// deletes nothing.
func TestCleanupPass(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ctx := t.Context()
	nsA, nsB, nsC, nsD := e.Namespace(t), e.Namespace(t), e.Namespace(t), e.Namespace(t)
	f := cleanupFixture(t, e, nsA, nsB, nsC, nsD)
	now := time.Now().Truncate(time.Second)
	pods, err := createDrivers(ctx, e.Client, f.drivers, now, 16)
	if err != nil {
		t.Fatal(err)
	}
	// The job loop has recorded every finished run, but two: job-00's
	// loop has not seen its oldest succeeded run end yet (it is still in
	// activeRuns), and job-01's has not recorded its oldest at all. Both
	// drivers stay until their run is recorded.
	recordFinished(t, e, f, pods, nsA+"/job-00-3-driver", nsB+"/job-01-3-driver")
	job0 := f.jobs[nsA+"/job-00"]
	setActiveRuns(t, e.Client, job0, "job-00-3-driver-run")
	f.want[nsA+"/job-00-3-driver"] = kept
	f.want[nsB+"/job-01-3-driver"] = kept
	versions := jobVersions(t, e, f)

	opts := passOptions(t, e, now, nsA, nsB, nsC)
	wantDeleted, wantKept := expectedPass(f, nsA, nsB, nsC)
	checkDryRun(t, e, opts, f, wantDeleted, wantKept)

	cl, err := cleanup.New(e.Client, opts)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := cl.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantDeleted, reasons(rep)); diff != "" {
		t.Errorf("pass (-want +got):\n%s", diff)
	}
	if rep.Kept != wantKept {
		t.Errorf("pass kept %d, want %d", rep.Kept, wantKept)
	}
	t.Logf("report:\n%s", rep)
	for key, o := range f.want {
		if exists := podExists(t, e, key); exists != (o == kept) {
			t.Errorf("pod %s exists: %t, want %t", key, exists, o == kept)
		}
	}

	checkDependents(t, e, f, pods, wantDeleted, nsA, nsB, nsC)

	// The cleanup never writes a SparkJob: the job loop is the one writer
	// of status.history.
	if diff := cmp.Diff(versions, jobVersions(t, e, f)); diff != "" {
		t.Errorf("the pass wrote SparkJobs (-before +after resourceVersion):\n%s", diff)
	}
	waitForDriversDeleted(t, e, nsB, "job-01")

	again, err := cl.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Deleted) != 0 {
		t.Errorf("a second pass deleted %v", reasons(again))
	}

	// Once the job loop records job-01's run, the next pass deletes it.
	recordHistory(t, e.Client, f.jobs[nsB+"/job-01"], pods[nsB+"/job-01-3-driver"])
	late, err := cl.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]cleanup.Reason{nsB + "/job-01-3-driver": cleanup.ReasonHistoryLimit}
	if diff := cmp.Diff(want, reasons(late)); diff != "" {
		t.Errorf("the pass after the run was recorded (-want +got):\n%s", diff)
	}
}

// passOptions scopes a pass to the managed drivers of nsA and nsB and to
// the spark-role=driver pods of nsC, at now, with events recorded and
// small pages to exercise Continue.
func passOptions(t *testing.T, e *testenv.Env, now time.Time, nsA, nsB, nsC string) cleanup.Options {
	t.Helper()
	sel, err := labels.Parse("spark-role=driver")
	if err != nil {
		t.Fatal(err)
	}
	broadcaster := events.NewBroadcaster(&events.EventSinkImpl{Interface: e.Clientset.EventsV1()})
	if err := broadcaster.StartRecordingToSinkWithContext(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broadcaster.Shutdown)
	opts := cleanup.DefaultOptions()
	opts.Clock = clocktesting.NewFakeClock(now)
	opts.Namespaces = []string{nsA, nsB}
	opts.Selector, opts.SelectorNamespaces = sel, []string{nsC}
	opts.Recorder = broadcaster.NewRecorder(e.Scheme, "sparkcd")
	opts.PageSize = 7 // many pages, to exercise Continue
	return opts
}

// expectedPass is what a pass scoped as passOptions does to f: the drivers
// it deletes, with their reasons, and how many finished drivers in scope
// it keeps.
func expectedPass(f *fixture, nsA, nsB, nsC string) (map[string]cleanup.Reason, int) {
	wantDeleted := map[string]cleanup.Reason{}
	for key, o := range f.want {
		if o != kept {
			wantDeleted[key] = o
		}
	}
	wantKept := 0
	for _, d := range f.drivers {
		key := d.namespace + "/" + d.name
		inScope := (d.managed && (d.namespace == nsA || d.namespace == nsB)) || d.namespace == nsC
		if inScope && (d.phase == corev1.PodSucceeded || d.phase == corev1.PodFailed) && f.want[key] == kept {
			wantKept++
		}
	}
	return wantDeleted, wantKept
}

// checkDryRun runs a dry pass with opts: it reports what a real pass
// deletes and deletes nothing.
func checkDryRun(t *testing.T, e *testenv.Env, opts cleanup.Options, f *fixture, wantDeleted map[string]cleanup.Reason, wantKept int) {
	t.Helper()
	dry := opts
	dry.DryRun = true
	dryRun, err := cleanup.New(e.Client, dry)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := dryRun.RunOnce(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantDeleted, reasons(rep)); diff != "" {
		t.Errorf("dry run (-want +got):\n%s", diff)
	}
	if rep.Kept != wantKept {
		t.Errorf("dry run kept %d, want %d", rep.Kept, wantKept)
	}
	if !strings.Contains(rep.String(), "would delete "+fmt.Sprint(len(wantDeleted))) {
		t.Errorf("dry-run report does not say what it would delete:\n%s", rep)
	}
	for key := range f.want {
		if !podExists(t, e, key) {
			t.Fatalf("the dry run deleted %s", key)
		}
	}
}

// checkDependents waits for the garbage collector to remove what the
// deleted drivers owned, and checks it removed nothing else.
func checkDependents(t *testing.T, e *testenv.Env, f *fixture, pods map[string]*corev1.Pod, deleted map[string]cleanup.Reason, namespaces ...string) {
	t.Helper()
	eventually(t, "the dependents of the deleted drivers to go", func() (bool, string) {
		deps := dependents(t, e, namespaces...)
		var left []string
		for key := range deleted {
			left = append(left, deps[pods[key].UID]...)
		}
		return len(left) == 0, fmt.Sprintf("%d left, such as %v", len(left), first(left))
	})
	deps := dependents(t, e, namespaces...)
	for key, o := range f.want {
		if o != kept || pods[key] == nil {
			continue
		}
		d := driverOf(f, key)
		if want := map[bool]int{true: 2, false: 1}[d.managed]; d.dependents && len(deps[pods[key].UID]) != want {
			t.Errorf("a kept driver %s lost its dependents", key)
		}
	}
}

// waitForDriversDeleted waits for a DriversDeleted event on the SparkJob
// namespace/job.
func waitForDriversDeleted(t *testing.T, e *testenv.Env, namespace, job string) {
	t.Helper()
	eventually(t, "a DriversDeleted event on "+job, func() (bool, string) {
		list := &eventsv1.EventList{}
		if err := e.Client.List(t.Context(), list, client.InNamespace(namespace)); err != nil {
			return false, err.Error()
		}
		for _, ev := range list.Items {
			if ev.Regarding.Name == job && ev.Reason == cleanup.EventDriversDeleted {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d events", len(list.Items))
	})
}

// recordFinished records the runs of every finished driver of f's
// SparkJobs in their history, but those of the drivers named in except.
func recordFinished(t *testing.T, e *testenv.Env, f *fixture, pods map[string]*corev1.Pod, except ...string) {
	t.Helper()
	byJob := map[string][]*corev1.Pod{}
	for _, d := range f.drivers {
		key := d.namespace + "/" + d.name
		if d.job == nil || slices.Contains(except, key) || (d.phase != corev1.PodSucceeded && d.phase != corev1.PodFailed) {
			continue
		}
		jobKey := d.job.Namespace + "/" + d.job.Name
		byJob[jobKey] = append(byJob[jobKey], pods[key])
	}
	for key, list := range byJob {
		recordHistory(t, e.Client, f.jobs[key], list...)
	}
}

// jobVersions are the resourceVersions of f's SparkJobs.
func jobVersions(t *testing.T, e *testenv.Env, f *fixture) map[string]string {
	t.Helper()
	out := map[string]string{}
	for key, job := range f.jobs {
		got := &v1alpha1.SparkJob{}
		if err := e.Client.Get(t.Context(), client.ObjectKeyFromObject(job), got); err != nil {
			t.Fatal(err)
		}
		out[key] = got.ResourceVersion
	}
	return out
}

func reasons(rep cleanup.Report) map[string]cleanup.Reason {
	got := map[string]cleanup.Reason{}
	for _, d := range rep.Deleted {
		got[d.Namespace+"/"+d.Pod] = d.Reason
	}
	return got
}

func podExists(t testing.TB, e *testenv.Env, key string) bool {
	t.Helper()
	ns, name, _ := strings.Cut(key, "/")
	err := e.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &corev1.Pod{})
	if apierrors.IsNotFound(err) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// dependents indexes the ConfigMaps and Services of the namespaces by
// the UIDs of their owners.
func dependents(t testing.TB, e *testenv.Env, namespaces ...string) map[types.UID][]string {
	t.Helper()
	out := map[types.UID][]string{}
	for _, ns := range namespaces {
		cms := &corev1.ConfigMapList{}
		svcs := &corev1.ServiceList{}
		if err := e.Client.List(context.Background(), cms, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		if err := e.Client.List(context.Background(), svcs, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for _, o := range cms.Items {
			for _, r := range o.OwnerReferences {
				out[r.UID] = append(out[r.UID], "ConfigMap "+ns+"/"+o.Name)
			}
		}
		for _, o := range svcs.Items {
			for _, r := range o.OwnerReferences {
				out[r.UID] = append(out[r.UID], "Service "+ns+"/"+o.Name)
			}
		}
	}
	return out
}

func driverOf(f *fixture, key string) driverSpec {
	for _, d := range f.drivers {
		if d.namespace+"/"+d.name == key {
			return d
		}
	}
	return driverSpec{}
}

func first(s []string) []string {
	return s[:min(len(s), 3)]
}
