package main

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/reconciler"
)

// TestSuspendResume (issue 18, item 5): suspend and resume patch
// spec.suspend; a suspended job shows no next schedule; a job a source
// manages gets the warning that the source reverts it.
func TestSuspendResume(t *testing.T) {
	e := env.Env(t)
	ns := e.Namespace(t)
	ctx := t.Context()
	job := piJob(ns)
	job.Spec.Schedule = "0 3 * * *"
	if err := e.Client.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	job.Status.NextScheduleTime = &metav1.Time{Time: time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)}
	if err := e.Client.Status().Update(ctx, job); err != nil {
		t.Fatal(err)
	}
	kc := []string{"-n", ns, "--kubeconfig", e.Kubeconfig}
	code, out, errOut := cli(t, append([]string{"suspend", "sparkjob", "pi"}, kc...)...)
	if code != 0 || out != "sparkjob/pi suspended\n" || errOut != "" {
		t.Fatalf("suspend: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	got := &v1alpha1.SparkJob{}
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(job), got); err != nil || got.Spec.Suspend == nil || !*got.Spec.Suspend {
		t.Fatalf("spec.suspend after suspend: %v, %v", got.Spec.Suspend, err)
	}
	if _, out, _ = cli(t, append([]string{"status"}, kc...)...); !strings.Contains(out, "- (suspended)") || strings.Contains(out, "2030-01-02") {
		t.Errorf("status of a suspended job shows a next schedule:\n%s", out)
	}
	code, out, errOut = cli(t, append([]string{"resume", "sparkjob/pi"}, kc...)...)
	if code != 0 || out != "sparkjob/pi resumed\n" {
		t.Fatalf("resume: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if _, out, _ = cli(t, append([]string{"status"}, kc...)...); !strings.Contains(out, "2030-01-02T03:00:00Z") {
		t.Errorf("status of a resumed job lacks its next schedule:\n%s", out)
	}
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(job), got); err != nil {
		t.Fatal(err)
	}
	got.Annotations = map[string]string{reconciler.AnnotationSource: ns + "/jobs"}
	got.Spec.Suspend = nil
	if err := e.Client.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = cli(t, append([]string{"suspend", "sparkjob", "pi"}, kc...)...)
	if code != 0 || !strings.Contains(errOut, "managed by JobSource "+ns+"/jobs") || !strings.Contains(errOut, "restores git's spec.suspend") {
		t.Errorf("suspend of a managed job: exit %d, stderr %s", code, errOut)
	}
	for _, args := range [][]string{{"suspend", "sparkjob", "missing"}, {"resume", "pod", "pi"}, {"suspend", "jobsource/none"}} {
		if code, _, errOut = cli(t, append(args, kc...)...); code != exitInput {
			t.Errorf("%v: exit %d, want 2; stderr %s", args, code, errOut)
		}
	}
}

// TestReconcileSource (issue 18, item 5): reconcile sets the request
// annotation the webhook sets; --wait waits for the loop's answer
// (written here as the source loop writes it) and times out with exit 2.
func TestReconcileSource(t *testing.T) {
	e := env.Env(t)
	ns := e.Namespace(t)
	ctx := t.Context()
	src := &v1alpha1.JobSource{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "jobs"}, Spec: v1alpha1.JobSourceSpec{URL: "https://git.example.com/jobs.git"}}
	if err := e.Client.Create(ctx, src); err != nil {
		t.Fatal(err)
	}
	kc := []string{"-n", ns, "--kubeconfig", e.Kubeconfig}
	code, out, errOut := cli(t, append([]string{"reconcile", "jobsource", "jobs", "--wait", "1s"}, kc...)...)
	if code != exitTimeout || !strings.Contains(errOut, "did not handle the request within 1s") {
		t.Fatalf("reconcile --wait with no loop: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	// The source loop's answer: it copies each new request annotation
	// into the status.
	stop := make(chan struct{})
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			got := &v1alpha1.JobSource{}
			if err := e.Client.Get(ctx, client.ObjectKeyFromObject(src), got); err != nil {
				continue
			}
			req := got.Annotations[reconciler.AnnotationReconcileRequestedAt]
			if req == "" || req == got.Status.LastHandledReconcileAt {
				continue
			}
			got.Status.LastHandledReconcileAt = req
			got.Status.LastAppliedRevision = "main@sha1:0123456"
			got.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Succeeded", Message: "applied 3 jobs", LastTransitionTime: metav1.Now()}}
			_ = e.Client.Status().Update(ctx, got)
		}
	}()
	code, out, errOut = cli(t, append([]string{"reconcile", "jobsource/jobs", "--wait", "1m"}, kc...)...)
	if code != 0 || !strings.Contains(out, "handled; revision main@sha1:0123456; Ready=True Succeeded: applied 3 jobs") {
		t.Fatalf("reconcile --wait: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	close(stop)
	<-answered
	if code, _, errOut = cli(t, append([]string{"reconcile", "jobsource", "missing"}, kc...)...); code != exitInput || !strings.Contains(errOut, "no JobSource") {
		t.Errorf("reconcile of a missing source: exit %d, %s", code, errOut)
	}
}
