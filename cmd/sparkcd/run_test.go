package main

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/runid"
)

// finishDrivers plays the kubelet the test control plane lacks: until ctx
// ends it ends every driver pod of ns whose run name contains match, with
// the driver container's exit code.
func finishDrivers(ctx context.Context, e *testenv.Env, ns, match string, exitCode int32) {
	for ctx.Err() == nil {
		pods := &corev1.PodList{}
		_ = e.Client.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelSparkRole: v1alpha1.RoleDriver})
		for i := range pods.Items {
			pod := &pods.Items[i]
			if !strings.Contains(pod.Name, match) || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
				continue
			}
			phase, reason := corev1.PodSucceeded, "Completed"
			if exitCode != 0 {
				phase, reason = corev1.PodFailed, "Error"
			}
			now := metav1.Now()
			pod.Status = corev1.PodStatus{Phase: phase, ContainerStatuses: []corev1.ContainerStatus{{
				Name: runid.DriverContainerName, Image: "apache/spark:3.5.3",
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exitCode, Reason: reason, StartedAt: now, FinishedAt: now}},
			}}}
			_ = e.Client.Status().Update(ctx, pod) // a conflict is retried at the next turn
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestRunWait (issue 18, item 5): run --wait waits for the run's end and
// exits with its outcome; a suspended job is refused at once; a run that
// does not end in time exits 2.
func TestRunWait(t *testing.T) {
	e := env.Env(t)
	ns := e.Namespace(t)
	ctx := t.Context()
	if err := e.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, e, ns, "--cleanup-schedule", "")
	job := piJob(ns)
	job.Spec.Schedule = "0 3 1 1 *" // no commit run: only the manual ones
	job.Spec.ConcurrencyPolicy = v1alpha1.AllowConcurrent
	if err := e.Client.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	kc := []string{"-n", ns, "--kubeconfig", e.Kubeconfig}

	start := time.Now()
	code, out, errOut := cli(t, append([]string{"run", "pi", "--wait", "3s"}, kc...)...)
	if code != exitTimeout || !strings.Contains(errOut, "did not end within 3s") || !strings.Contains(out, "started") {
		t.Fatalf("run --wait of a run that never ends: exit %d\nstdout: %s\nstderr: %s\nserve: %s", code, out, errOut, srv.logs)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("run --wait 3s took %s", d)
	}
	fctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); finishDrivers(fctx, e, ns, "", 0) }()
	code, out, errOut = cli(t, append([]string{"run", "pi", "--wait", "1m"}, kc...)...)
	if code != 0 || !strings.Contains(out, "succeeded") {
		t.Fatalf("run --wait of a run that succeeds: exit %d\nstdout: %s\nstderr: %s\nserve: %s", code, out, errOut, srv.logs)
	}
	stop()
	<-done
	fctx, stop = context.WithCancel(ctx)
	done = make(chan struct{})
	go func() { defer close(done); finishDrivers(fctx, e, ns, "", 1) }()
	code, out, errOut = cli(t, append([]string{"run", "pi", "--wait", "1m"}, kc...)...)
	stop()
	<-done
	if code != exitFindings || !strings.Contains(errOut, "failed: ") || !strings.Contains(errOut, "sparkcd logs pi -n "+ns+" --run ") {
		t.Fatalf("run --wait of a run that fails: exit %d\nstdout: %s\nstderr: %s\nserve: %s", code, out, errOut, srv.logs)
	}

	got := &v1alpha1.SparkJob{}
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(job), got); err != nil {
		t.Fatal(err)
	}
	got.Spec.Suspend = ptr.To(true)
	if err := e.Client.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	code, _, errOut = cli(t, append([]string{"run", "pi", "--wait", "1m"}, kc...)...)
	if code != exitFindings || !strings.Contains(errOut, "sparkjob/pi is suspended") || time.Since(start) > 10*time.Second {
		t.Fatalf("run --wait of a suspended job: exit %d after %s, stderr %s", code, time.Since(start), errOut)
	}
}
