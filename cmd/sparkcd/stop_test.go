package main

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/runid"
)

// TestStopRun (issue 18, item 5): stop deletes a running run's driver, the
// garbage collector takes its executors and objects, and the job loop
// records the run as Failed (Stopped) which the restart policy does not
// retry; a run that ended, or a job with no active run, is refused.
func TestStopRun(t *testing.T) {
	e := env.Env(t)
	ns := e.Namespace(t)
	ctx := t.Context()
	if err := e.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, e, ns, "--cleanup-schedule", "")
	job := piJob(ns)
	job.Spec.Schedule = "0 3 1 1 *" // no commit run: only the manual one
	job.Spec.RestartPolicy = &v1alpha1.RestartPolicy{Type: v1alpha1.RestartOnFailure, OnFailureRetries: ptr.To[int32](3)}
	if err := e.Client.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	kc := []string{"-n", ns, "--kubeconfig", e.Kubeconfig}
	code, out, errOut := cli(t, append([]string{"stop", "pi"}, kc...)...)
	if code != exitFindings || !strings.Contains(errOut, "sparkjob/pi has no active run to stop: it has no run yet") {
		t.Errorf("stop with no run: exit %d, stderr %s", code, errOut)
	}
	code, out, errOut = cli(t, append([]string{"run", "pi", "--wait-start", "1m"}, kc...)...)
	if code != 0 {
		t.Fatalf("run: exit %d\n%s%s\nserve: %s", code, out, errOut, srv.logs)
	}
	runName := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(out), "sparkjob/pi: run "), " started")
	driver := &corev1.Pod{}
	if err := e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: runid.DriverPodName(runName)}, driver); err != nil {
		t.Fatalf("driver of %q: %v", runName, err)
	}
	// An executor as Spark creates it: owned by the driver pod.
	executor := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: runName + "-exec-1", OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "v1", Kind: "Pod", Name: driver.Name, UID: driver.UID, Controller: ptr.To(true),
		}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "spark-kubernetes-executor", Image: "apache/spark:3.5.3"}}},
	}
	if err := e.Client.Create(ctx, executor); err != nil {
		t.Fatal(err)
	}

	code, out, errOut = cli(t, append([]string{"stop", "pi", "--wait", "1m"}, kc...)...)
	if code != 0 || !strings.Contains(out, "run "+runName+" stopped (driver pod "+driver.Name+" deleted)") || !strings.Contains(out, "run "+runName+" ended: Failed (Stopped)") {
		t.Fatalf("stop --wait: exit %d\nstdout: %s\nstderr: %s\nserve: %s", code, out, errOut, srv.logs)
	}
	got := &v1alpha1.SparkJob{}
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(job), got); err != nil {
		t.Fatal(err)
	}
	if r := findRun(got, runName); r == nil || r.Message == "" || got.Status.NextAttempt != nil || len(got.Status.ActiveRuns) != 0 {
		t.Errorf("status after stop: run %+v, nextAttempt %+v (a stop is not retried), active %v", r, got.Status.NextAttempt, got.Status.ActiveRuns)
	}
	for _, obj := range []client.Object{driver, executor, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: runid.ConfigMapName(runName)}}} {
		testenv.Eventually(t, 30*time.Second, "the garbage collector deletes "+obj.GetName(), func() (bool, string) {
			err := e.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj)
			return apierrors.IsNotFound(err), "still there"
		})
	}

	code, _, errOut = cli(t, append([]string{"stop", "pi", runName}, kc...)...)
	if code != exitFindings || !strings.Contains(errOut, "run "+runName+" of sparkjob/pi has already ended (Failed (Stopped) at ") {
		t.Errorf("stop of an ended run: exit %d, stderr %s", code, errOut)
	}
	code, _, errOut = cli(t, append([]string{"stop", "pi"}, kc...)...)
	if code != exitFindings || !strings.Contains(errOut, "its last run "+runName+" is Failed (Stopped)") {
		t.Errorf("stop with no active run: exit %d, stderr %s", code, errOut)
	}
	for _, args := range [][]string{{"stop", "pi", "nosuch"}, {"stop", "missing"}} {
		if code, _, errOut = cli(t, append(args, kc...)...); code != exitInput {
			t.Errorf("%v: exit %d, want 2; stderr %s", args, code, errOut)
		}
	}
}

// TestStopRunTerminating: on a real node a deleted driver lingers,
// terminating, and its container ends with an error on the way out; the run
// is still recorded as Stopped, not as a failure to retry. A finalizer holds
// the pod as the kubelet's grace period would.
func TestStopRunTerminating(t *testing.T) {
	e := env.Env(t)
	ns := e.Namespace(t)
	ctx := t.Context()
	if err := e.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, e, ns, "--cleanup-schedule", "")
	job := piJob(ns)
	job.Spec.Schedule = "0 3 1 1 *"
	job.Spec.RestartPolicy = &v1alpha1.RestartPolicy{Type: v1alpha1.RestartAlways}
	if err := e.Client.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	kc := []string{"-n", ns, "--kubeconfig", e.Kubeconfig}
	code, out, errOut := cli(t, append([]string{"run", "pi", "--wait-start", "1m"}, kc...)...)
	if code != 0 {
		t.Fatalf("run: exit %d\n%s%s\nserve: %s", code, out, errOut, srv.logs)
	}
	runName := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(out), "sparkjob/pi: run "), " started")
	driver := &corev1.Pod{}
	key := types.NamespacedName{Namespace: ns, Name: runid.DriverPodName(runName)}
	if err := e.Client.Get(ctx, key, driver); err != nil {
		t.Fatal(err)
	}
	driver.Finalizers = append(driver.Finalizers, "test.sparkcd.io/grace-period")
	if err := e.Client.Update(ctx, driver); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p := &corev1.Pod{}
		if e.Client.Get(ctx, key, p) == nil {
			p.Finalizers = nil
			_ = e.Client.Update(ctx, p)
		}
	})
	code, out, errOut = cli(t, append([]string{"stop", "pi", runName, "--wait", "1m"}, kc...)...)
	if code != 0 || !strings.Contains(out, "ended: Failed (Stopped)") {
		t.Fatalf("stop of a terminating driver: exit %d\n%s%s\nserve: %s", code, out, errOut, srv.logs)
	}
	// The container ends on SIGTERM as the pod goes.
	if err := e.Client.Get(ctx, key, driver); err != nil || driver.DeletionTimestamp == nil {
		t.Fatalf("the driver should be terminating: %v, %v", err, driver.DeletionTimestamp)
	}
	now := metav1.Now()
	driver.Status = corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{
		Name: runid.DriverContainerName, Image: "apache/spark:3.5.3",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 143, Reason: "Error", StartedAt: now, FinishedAt: now}},
	}}}
	if err := e.Client.Status().Update(ctx, driver); err != nil {
		t.Fatal(err)
	}
	// A run request handled after the pod's update proves the loop has
	// read the job since: the stopped run must still say Stopped.
	code, out, errOut = cli(t, append([]string{"run", "pi", "--wait-start", "1m"}, kc...)...)
	if code != 0 {
		t.Fatalf("run after the stop: exit %d\n%s%s\nserve: %s", code, out, errOut, srv.logs)
	}
	got := &v1alpha1.SparkJob{}
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(job), got); err != nil {
		t.Fatal(err)
	}
	if r := findRun(got, runName); r == nil || r.Reason != runid.ReasonStopped {
		t.Errorf("the stopped run after its container's exit: %+v", r)
	}
}
