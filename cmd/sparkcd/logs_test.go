package main

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

// TestLogs (issue 18, item 5): logs names a driver the cleanup removed,
// refuses an unknown run, and reads pods/log of the driver's container
// (the test API server has no kubelet: it answers that the pod has no
// node, which logs reports naming the run and pod).
func TestLogs(t *testing.T) {
	e := env.Env(t)
	ns := e.Namespace(t)
	ctx := t.Context()
	job := piJob(ns)
	if err := e.Client.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	kc := []string{"-n", ns, "--kubeconfig", e.Kubeconfig}
	code, _, errOut := cli(t, append([]string{"logs", "pi"}, kc...)...)
	if code != exitFindings || !strings.Contains(errOut, "sparkjob/pi has no run yet") {
		t.Fatalf("logs before a run: exit %d, %s", code, errOut)
	}
	job.Status.LastRun = &v1alpha1.RunStatus{Name: "pi-live", Phase: v1alpha1.RunRunning}
	job.Status.History = []v1alpha1.RunStatus{{Name: "pi-gone", Phase: v1alpha1.RunFailed, Reason: "OOMKilled", Message: "out of memory"}}
	if err := e.Client.Status().Update(ctx, job); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = cli(t, append([]string{"logs", "pi", "--run", "pi-gone"}, kc...)...)
	for _, want := range []string{"run pi-gone of sparkjob/pi has no log left", "driver pod " + ns + "/pi-gone-driver is gone", "the cleanup deletes finished drivers", "Failed (OOMKilled): out of memory"} {
		if code != exitFindings || !strings.Contains(errOut, want) {
			t.Errorf("logs of a cleaned-up run: exit %d, stderr lacks %q:\n%s", code, want, errOut)
		}
	}
	if code, _, errOut = cli(t, append([]string{"logs", "pi", "--run", "pi-nope"}, kc...)...); code != exitInput || !strings.Contains(errOut, "its runs: pi-live, pi-gone") {
		t.Errorf("logs of an unknown run: exit %d, %s", code, errOut)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: runid.DriverPodName("pi-live")},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: runid.DriverContainerName, Image: "apache/spark:3.5.3"}}}}
	if err := e.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut = cli(t, append([]string{"logs", "pi"}, kc...)...); code != exitFindings || !strings.Contains(errOut, "has no log yet: its driver pod "+ns+"/pi-live-driver is") {
		t.Errorf("logs of an unscheduled driver: exit %d, %s", code, errOut)
	}
	// Bound to a node that has no kubelet: the API server's pods/log
	// request fails, and logs names the run and pod.
	if err := e.Client.SubResource("binding").Create(ctx, pod, &corev1.Binding{ObjectMeta: pod.ObjectMeta, Target: corev1.ObjectReference{Kind: "Node", Name: "no-kubelet"}}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cli(t, append([]string{"logs", "pi", "--tail", "5", "-f"}, kc...)...)
	if code == 0 || !strings.Contains(errOut, "unable to read the log of run pi-live (pod "+ns+"/pi-live-driver)") {
		t.Errorf("logs of a pod on a node without kubelet: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	t.Logf("the API server's answer: %s", errOut)
}
