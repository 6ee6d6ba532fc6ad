package faults_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/runid"
)

// jobTemplate is a SparkJob as a data engineer commits it; the last %s
// takes more spec lines (a schedule, a concurrency policy).
const jobTemplate = `apiVersion: sparkcd.io/v1alpha1
kind: SparkJob
metadata:
  name: %s
spec:
  type: Scala
  sparkVersion: 3.5.3
  image: apache/spark:3.5.3
  mainClass: org.apache.spark.examples.SparkPi
  mainApplicationFile: local:///opt/spark/examples/jars/spark-examples_2.12-3.5.3.jar
  arguments: ["%d"]
  driver:
    cores: 1
    memory: 1g
  executor:
    instances: 2
    cores: 1
    memory: 1g
%s`

// jobYAML is one job file: name, the argument of SparkPi, more spec lines.
func jobYAML(name string, slices int, more ...string) string {
	extra := ""
	for _, m := range more {
		extra += "  " + m + "\n"
	}
	return fmt.Sprintf(jobTemplate, name, slices, extra)
}

// sparkNamespace creates a namespace for the test with the driver's
// service account, which no controller creates in a test control plane.
func sparkNamespace(t *testing.T, e *testenv.Env) string {
	t.Helper()
	ns := e.Namespace(t)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}
	if err := e.Client.Create(t.Context(), sa); err != nil {
		t.Fatal(err)
	}
	return ns
}

// createSource creates the JobSource "jobs" of the repository at url,
// path "jobs", pruning.
func createSource(t *testing.T, e *testenv.Env, ns, url string, interval time.Duration, mutate ...func(*v1alpha1.JobSource)) {
	t.Helper()
	src := &v1alpha1.JobSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "jobs"},
		Spec: v1alpha1.JobSourceSpec{
			URL: url, Path: "jobs", Prune: true,
			Interval: metav1.Duration{Duration: interval},
			Timeout:  &metav1.Duration{Duration: 10 * time.Second},
		},
	}
	for _, m := range mutate {
		m(src)
	}
	if err := e.Client.Create(t.Context(), src); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond until it holds, and fails the test with cond's last
// description when waitTimeout passes.
func eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	testenv.Eventually(t, waitTimeout, what, cond)
}

// getSource reads the JobSource "jobs".
func getSource(t testing.TB, e *testenv.Env, ns string) (*v1alpha1.JobSource, error) {
	src := &v1alpha1.JobSource{}
	err := e.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "jobs"}, src)
	return src, err
}

// describe renders a status for failure messages.
func describe(status any) string {
	b, _ := yaml.Marshal(status)
	return string(b)
}

// waitSourceApplied waits until the JobSource is Ready at commit, this
// generation observed, and returns it.
func waitSourceApplied(t testing.TB, e *testenv.Env, ns, commit string) *v1alpha1.JobSource {
	t.Helper()
	var src *v1alpha1.JobSource
	eventually(t, "JobSource Ready at "+commit, func() (bool, string) {
		var err error
		if src, err = getSource(t, e, ns); err != nil {
			return false, err.Error()
		}
		c := apimeta.FindStatusCondition(src.Status.Conditions, meta.ReadyCondition)
		ok := c != nil && c.Status == metav1.ConditionTrue && c.Reason == meta.SucceededReason &&
			c.ObservedGeneration == src.Generation && strings.HasSuffix(src.Status.LastAppliedRevision, commit)
		return ok, describe(src.Status)
	})
	return src
}

// requestReconcile asks sparkcd to reconcile the JobSource now, as the
// webhook receiver does, and waits until a reconcile has answered.
func requestReconcile(t testing.TB, e *testenv.Env, ns string) *v1alpha1.JobSource {
	t.Helper()
	at := time.Now()
	if err := reconciler.RequestReconcile(context.Background(), e.Client, types.NamespacedName{Namespace: ns, Name: "jobs"}, at); err != nil {
		t.Fatal(err)
	}
	want := at.UTC().Format(time.RFC3339Nano)
	var src *v1alpha1.JobSource
	eventually(t, "the reconcile request answered", func() (bool, string) {
		var err error
		if src, err = getSource(t, e, ns); err != nil {
			return false, err.Error()
		}
		return src.Status.LastHandledReconcileAt == want, describe(src.Status)
	})
	return src
}

// listJobs lists the SparkJobs of ns that are not being deleted, by name.
func listJobs(ctx context.Context, e *testenv.Env, ns string) (map[string]*v1alpha1.SparkJob, error) {
	list := &v1alpha1.SparkJobList{}
	if err := e.Client.List(ctx, list, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	jobs := map[string]*v1alpha1.SparkJob{}
	for i := range list.Items {
		if list.Items[i].DeletionTimestamp.IsZero() {
			jobs[list.Items[i].Name] = &list.Items[i]
		}
	}
	return jobs, nil
}

// listDrivers lists the driver pods sparkcd made in ns.
func listDrivers(ctx context.Context, e *testenv.Env, ns string) ([]corev1.Pod, error) {
	pods := &corev1.PodList{}
	err := e.Client.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{
		v1alpha1.LabelSparkRole: v1alpha1.RoleDriver, v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue,
	})
	return pods.Items, err
}

// runAudit is what inspectRuns found: the runs by job, the runs started
// twice, and the runs that lack a dependent.
type runAudit struct {
	// runs maps each job to its runs' names, sorted.
	runs map[string][]string
	// duplicates are descriptions of a run that has more than one driver:
	// two drivers of one job for one spec hash (a commit run), one tick
	// (a schedule run) or one name.
	duplicates []string
	// incomplete are descriptions of drivers missing their ConfigMap or
	// Service, or with one not owned by the driver, or still held back
	// from the scheduler.
	incomplete []string
}

func (a runAudit) total() int {
	n := 0
	for _, r := range a.runs {
		n += len(r)
	}
	return n
}

// inspectRuns reads every driver of ns and checks the two promises of a
// run: at most one driver, and every dependent present and owned by it.
func inspectRuns(ctx context.Context, e *testenv.Env, ns string) (runAudit, error) {
	a := runAudit{runs: map[string][]string{}}
	drivers, err := listDrivers(ctx, e, ns)
	if err != nil {
		return a, err
	}
	identity := map[string][]string{}
	for i := range drivers {
		pod := &drivers[i]
		job, run := pod.Labels[v1alpha1.LabelJob], pod.Labels[v1alpha1.LabelRun]
		a.runs[job] = append(a.runs[job], run)
		key := job + "/run=" + run
		if pod.Annotations[v1alpha1.AnnotationTrigger] == string(v1alpha1.TriggerCommit) {
			key = job + "/spec-hash=" + pod.Annotations[v1alpha1.AnnotationSpecHash]
		}
		identity[key] = append(identity[key], pod.Name)
		if !pod.DeletionTimestamp.IsZero() {
			continue
		}
		if len(pod.Spec.SchedulingGates) > 0 {
			a.incomplete = append(a.incomplete, fmt.Sprintf("run %s is still gated: %v", run, pod.Spec.SchedulingGates))
		}
		for _, dep := range []client.Object{
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: runid.ConfigMapName(run)}},
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: runid.ServiceName(run, pod.Labels[v1alpha1.LabelSparkAppSelector])}},
		} {
			kind := fmt.Sprintf("%T", dep)[len("*v1."):]
			err := e.Client.Get(ctx, client.ObjectKeyFromObject(dep), dep)
			switch {
			case apierrors.IsNotFound(err):
				a.incomplete = append(a.incomplete, fmt.Sprintf("run %s lacks its %s %s", run, kind, dep.GetName()))
			case err != nil:
				return a, err
			case !ownedBy(dep, pod.UID):
				a.incomplete = append(a.incomplete, fmt.Sprintf("%s %s of run %s is not owned by its driver", kind, dep.GetName(), run))
			}
		}
	}
	for key, pods := range identity {
		if len(pods) > 1 {
			sort.Strings(pods)
			a.duplicates = append(a.duplicates, fmt.Sprintf("%s has %d drivers: %s", key, len(pods), strings.Join(pods, ", ")))
		}
	}
	for job := range a.runs {
		sort.Strings(a.runs[job])
	}
	sort.Strings(a.duplicates)
	sort.Strings(a.incomplete)
	return a, nil
}

func ownedBy(obj client.Object, uid types.UID) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.UID == uid {
			return true
		}
	}
	return false
}

// setPodStatus changes a pod's status as a kubelet would, through the
// status subresource. A pod that is gone is no error: the cleanup or a
// replaced run may have deleted it.
func setPodStatus(ctx context.Context, e *testenv.Env, ns, name string, mutate func(*corev1.PodStatus)) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod := &corev1.Pod{}
		if err := e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, pod); err != nil {
			return err
		}
		mutate(&pod.Status)
		return e.Client.Status().Update(ctx, pod)
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// The pod statuses a kubelet writes for a driver.
func podRunning(s *corev1.PodStatus) {
	now := metav1.Now()
	s.Phase = corev1.PodRunning
	s.StartTime = &now
	s.ContainerStatuses = []corev1.ContainerStatus{{
		Name: "spark-kubernetes-driver", Image: "apache/spark:3.5.3", Ready: true,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
	}}
}

func podSucceeded(s *corev1.PodStatus) {
	now := metav1.Now()
	started := now
	if s.StartTime != nil {
		started = *s.StartTime
	} else {
		s.StartTime = &now
	}
	s.Phase = corev1.PodSucceeded
	s.ContainerStatuses = []corev1.ContainerStatus{{
		Name: "spark-kubernetes-driver", Image: "apache/spark:3.5.3",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 0, Reason: "Completed", StartedAt: started, FinishedAt: now,
		}},
	}}
}

// readyReason is the reason of the object's Ready condition, when it is of
// the object's generation.
func readyReason(conds []metav1.Condition, generation int64) string {
	c := apimeta.FindStatusCondition(conds, meta.ReadyCondition)
	if c == nil || c.ObservedGeneration != generation {
		return ""
	}
	return c.Reason
}

// wantRuns is what a job must have had once sparkcd has converged: between
// min and max runs, one per spec it was applied with, all succeeded — or,
// where interrupted allows it, failed as Interrupted (such a run never ran
// and has no driver) — the last of its current spec, and, when commit is
// set, its spec applied from that commit.
type wantRuns struct {
	min, max    int
	commit      string
	interrupted bool
}

// waitRuns waits until every job named in want has had its runs, each
// with exactly one complete driver, and returns the last audit and how
// many runs failed as Interrupted. It returns at once when a run has two
// drivers: the caller reports audit.duplicates.
func waitRuns(t testing.TB, e *testenv.Env, ns string, want map[string]wantRuns) (runAudit, int) {
	t.Helper()
	var audit runAudit
	interrupted := 0
	eventually(t, fmt.Sprintf("the runs of %d jobs finished, each with one complete driver", len(want)), func() (bool, string) {
		jobs, err := listJobs(context.Background(), e, ns)
		if err != nil {
			return false, err.Error()
		}
		if audit, err = inspectRuns(context.Background(), e, ns); err != nil {
			return false, err.Error()
		}
		if len(audit.duplicates) > 0 {
			return true, ""
		}
		interrupted = 0
		problems := append([]string(nil), audit.incomplete...)
		names := make([]string, 0, len(want))
		for name := range want {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			p, n := checkRuns(jobs[name], audit.runs[name], want[name])
			if p != "" {
				problems = append(problems, name+": "+p)
			}
			interrupted += n
		}
		return len(problems) == 0, fmt.Sprintf("%d problems: %s", len(problems), strings.Join(first(problems, 8), "; "))
	})
	return audit, interrupted
}

// checkRuns says what is wrong with a job's runs against w, and how many
// of them failed as Interrupted. drivers are the job's driver pods' run
// names, sorted.
func checkRuns(job *v1alpha1.SparkJob, drivers []string, w wantRuns) (string, int) {
	if job == nil {
		return "no SparkJob", 0
	}
	st := job.Status
	switch {
	case w.commit != "" && !strings.HasSuffix(st.LastAppliedRevision, w.commit):
		return fmt.Sprintf("lastAppliedRevision %q, want %s", st.LastAppliedRevision, w.commit), 0
	case st.LastRun == nil || st.SpecHash == "" || st.LastRun.SpecHash != st.SpecHash:
		return "the last run is not of the current spec: " + describe(st), 0
	case len(st.ActiveRuns) > 0:
		return fmt.Sprintf("runs %v still active", st.ActiveRuns), 0
	case len(st.History) < w.min || len(st.History) > w.max:
		return fmt.Sprintf("%d runs in the history, want %d to %d: %s", len(st.History), w.min, w.max, describe(st.History)), 0
	}
	interrupted := 0
	var succeeded []string
	specs := map[string]bool{}
	for _, run := range st.History {
		switch {
		case run.Phase == v1alpha1.RunSucceeded:
			succeeded = append(succeeded, run.Name)
		case run.Phase == v1alpha1.RunFailed && run.Reason == runid.ReasonInterrupted && w.interrupted:
			interrupted++
		default:
			return fmt.Sprintf("run %s is %s (%s)", run.Name, run.Phase, run.Reason), 0
		}
		if specs[run.SpecHash] {
			return "the history does not hold one run per spec: " + describe(st.History), 0
		}
		specs[run.SpecHash] = true
	}
	sort.Strings(succeeded)
	if !slices.Equal(succeeded, drivers) {
		return fmt.Sprintf("drivers %v, want the drivers of the succeeded runs %v", drivers, succeeded), 0
	}
	if readyReason(st.Conditions, job.Generation) != reconciler.ReasonRunSucceeded {
		return "Ready is not RunSucceeded: " + describe(st.Conditions), 0
	}
	return "", interrupted
}

// jobNames returns want for the jobs <prefix>00 … <prefix><n-1>.
func jobNames(prefix string, n int, want wantRuns) map[string]wantRuns {
	m := make(map[string]wantRuns, n)
	for i := range n {
		m[fmt.Sprintf("%s%02d", prefix, i)] = want
	}
	return m
}
