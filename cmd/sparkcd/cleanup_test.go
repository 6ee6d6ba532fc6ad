package main

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// TestCleanupOnce runs `sparkcd cleanup --once`, dry and for real, on a
// succeeded driver a serve started.
func TestCleanupOnce(t *testing.T) {
	e := env.Env(t)
	ns := e.Namespace(t)
	ctx := t.Context()
	if err := e.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, e, ns, "--cleanup-schedule", "")
	logs := srv.logs
	if err := e.Client.Create(ctx, piJob(ns)); err != nil {
		t.Fatal(err)
	}
	waitDrivers(t, e, ns, 1, logs)
	pods := &corev1.PodList{}
	if err := e.Client.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelSparkRole: v1alpha1.RoleDriver}); err != nil {
		t.Fatal(err)
	}
	pod := &pods.Items[0]
	finished := metav1.NewTime(time.Now().Add(-time.Hour))
	// The loop may still be writing the pod (its scheduling gate): read it
	// again on a conflict.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := e.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
			return err
		}
		pod.Status = corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "spark-kubernetes-driver", Image: "apache/spark:3.5.3",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: finished, FinishedAt: finished}},
		}}}
		return e.Client.Status().Update(ctx, pod)
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		job := &v1alpha1.SparkJob{}
		if err := e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "pi"}, job); err != nil {
			t.Fatal(err)
		}
		if job.Status.LastRun != nil && job.Status.LastRun.Phase == v1alpha1.RunSucceeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run did not succeed in the status:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	srv.stop()

	base := []string{"cleanup", "--once", "--kubeconfig", e.Kubeconfig, "--cleanup-namespaces", ns, "--succeeded-ttl", "30m"}
	code, out, errOut := cli(t, append(base, "--dry-run")...)
	if code != 0 || !strings.Contains(out, pod.Name) || !strings.Contains(out, "would delete 1 finished driver") {
		t.Fatalf("cleanup --dry-run: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{}); err != nil {
		t.Fatalf("a dry run deleted the driver: %v", err)
	}
	code, out, errOut = cli(t, base...)
	if code != 0 || !strings.Contains(out, "deleted 1 finished driver") {
		t.Fatalf("cleanup --once: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the driver is still there after the pass: %v", err)
	}

	code, _, errOut = cli(t, "cleanup", "--once", "--kubeconfig", e.Kubeconfig, "--cleanup-selector", "spark-role=driver")
	if code != exitInput || !strings.Contains(errOut, "--cleanup-selector-namespaces") {
		t.Fatalf("a selector without namespaces: exit %d, stderr %q", code, errOut)
	}
}
