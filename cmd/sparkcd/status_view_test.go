package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
)

const checkout = "/home/u/.cache/sparkcd/spark/jobs/0f1e2d3c-aaaa-bbbb-cccc-111122223333/checkouts/0123456789abcdef0123456789abcdef01234567/"

// buildFailedSource is a JobSource whose path did not build and which
// rejected one job.
func buildFailedSource(ns string) v1alpha1.JobSource {
	s := v1alpha1.JobSource{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "jobs"}}
	s.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionFalse, Reason: "BuildFailed",
		Message: "build failed: " + checkout + "overlays/prod/kustomization.yaml: missing resource 'etl.yaml'; " + checkout + "base/pi.yaml: bad YAML"}}
	s.Status.Jobs = []v1alpha1.JobFindings{{ObjectRef: v1alpha1.ObjectRef{Namespace: ns, Name: "etl"}, Source: "base/etl.yaml",
		Findings: []v1alpha1.Finding{
			{Severity: v1alpha1.SeverityWarning, Rule: "w", Message: "a warning"},
			{Severity: v1alpha1.SeverityError, Rule: "executor-memory", Field: "spec.executor.memory", Message: "4Gi exceeds the limit 2Gi"},
			{Severity: v1alpha1.SeverityError, Rule: "x", Message: "second"},
		}}}
	return s
}

// TestStatusShortensWholeWords (issue 18, item 4): a message too long for
// its column is cut at a word end, marked "…", its bracket closed — never
// "…'OnFailure' would" or "(built from '…" without its ")".
func TestStatusShortensWholeWords(t *testing.T) {
	now := time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)
	job := v1alpha1.SparkJob{ObjectMeta: metav1.ObjectMeta{Namespace: "spark", Name: "etl"}}
	job.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionFalse, Reason: "SourceRejected",
		Message: "job 'spark/etl' is also defined in 'base/etl.yaml' (built from 'overlays/prod-eu-west-1'); remove one"}}
	var out bytes.Buffer
	if err := writeStatusText(&out, nil, []v1alpha1.SparkJob{job}, now); err != nil {
		t.Fatal(err)
	}
	if want := " job 'spark/etl' is also defined in 'base/etl.yaml' (built …)\n"; !strings.HasSuffix(out.String(), want) {
		t.Errorf("status row does not end in %q:\n%s", want, out.String())
	}
}

// TestStatusShowsWhy (issue 18, item 3): a job row carries the Ready
// message, a source lists its rejected jobs, and a build failure shows no
// cache paths; a suspended job shows no next schedule.
func TestStatusShowsWhy(t *testing.T) {
	now := time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)
	job := v1alpha1.SparkJob{ObjectMeta: metav1.ObjectMeta{Namespace: "spark", Name: "etl"}}
	job.Spec.Suspend = ptr.To(true)
	job.Status.NextScheduleTime = &metav1.Time{Time: now.Add(time.Hour)}
	long := "the namespace lacks the driver service account spark-driver: apply the spark-namespace component " + strings.Repeat("x", 200)
	job.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionFalse, Reason: "ServiceAccountNotFound", Message: long}}
	var out bytes.Buffer
	if err := writeStatusText(&out, []v1alpha1.JobSource{buildFailedSource("spark")}, []v1alpha1.SparkJob{job}, now); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"- (suspended)",
		"the namespace lacks the driver service account",
		"jobsource/spark/jobs rejected spark/etl (base/etl.yaml): spec.executor.memory: 4Gi exceeds the limit 2Gi (+1 more errors)",
		"build failed: overlays/prod/kustomization.yaml …",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("status lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "checkouts/") || strings.Contains(text, strings.Repeat("x", 100)) || strings.Contains(text, "2026-12-02T19") {
		t.Errorf("status shows a cache path, an unshortened message or a suspended job's next schedule:\n%s", text)
	}
	out.Reset()
	if err := writeStatusTable(&out, nil, []v1alpha1.SparkJob{job}, now, 0); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), long) {
		t.Errorf("wide status lacks the full message:\n%s", out.String())
	}
	out.Reset()
	src := buildFailedSource("spark")
	src.Status.Conditions[0].Message = "applied revision main@sha1:0123456: 3 SparkJobs in sync, 1 jobs rejected (see status.jobs)"
	if err := writeStatusTable(&out, []v1alpha1.JobSource{src}, nil, now, 0); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "1 jobs rejected (listed below)\njobsource/spark/jobs rejected spark/etl") {
		t.Errorf("the rejected jobs are not listed below their source:\n%s", out.String())
	}
	out.Reset()
	src = buildFailedSource("spark")
	if err := describe(&out, statusView{sources: []v1alpha1.JobSource{src}}, now); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"    build failed: overlays/prod/kustomization.yaml: missing resource 'etl.yaml'\n", "    base/pi.yaml: bad YAML\n",
		"  spark/etl (base/etl.yaml):\n", "error executor-memory spec.executor.memory: 4Gi exceeds the limit 2Gi"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("describe lacks %q:\n%s", want, out.String())
		}
	}
}

// TestStatusVerbs runs status NAME, -l, -o and -w against the API server
// (issue 18, items 5 and 8).
func TestStatusVerbs(t *testing.T) {
	e := env.Env(t)
	ns := e.Namespace(t)
	ctx := t.Context()
	job := piJob(ns)
	job.Labels = map[string]string{"team": "etl"}
	job.Spec.Schedule = "0 3 * * *"
	other := piJob(ns)
	other.Name = "other"
	for _, j := range []*v1alpha1.SparkJob{job, other} {
		if err := e.Client.Create(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	job.Status.History = []v1alpha1.RunStatus{{Name: "pi-1a2b3c4d", Phase: v1alpha1.RunFailed, Reason: "OOMKilled", Message: "the driver ran out of memory"}}
	apimeta.SetStatusCondition(&job.Status.Conditions, metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: "RunFailed", Message: "run pi-1a2b3c4d failed"})
	if err := e.Client.Status().Update(ctx, job); err != nil {
		t.Fatal(err)
	}
	kc := []string{"-n", ns, "--kubeconfig", e.Kubeconfig}
	code, out, errOut := cli(t, append([]string{"status", "sparkjob/pi"}, kc...)...)
	for _, want := range []string{"SparkJob:", ns + "/pi", "Schedule:", "0 3 * * *", "Ready=False", "run pi-1a2b3c4d failed", "pi-1a2b3c4d", "Failed (OOMKilled)", "the driver ran out of memory"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("status sparkjob/pi lacks %q: exit %d\nstdout: %s\nstderr: %s", want, code, out, errOut)
		}
	}
	if code, out, errOut = cli(t, append([]string{"status", "missing"}, kc...)...); code != exitInput || !strings.Contains(errOut, "no SparkJob or JobSource '"+ns+"/missing'") {
		t.Fatalf("status missing: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if code, out, _ = cli(t, append([]string{"status", "-l", "team=etl", "-o", "name"}, kc...)...); code != 0 || out != "sparkjob/pi\n" {
		t.Fatalf("status -l team=etl -o name: exit %d, %q", code, out)
	}
	if code, out, _ = cli(t, append([]string{"status", "pi", "-o", "yaml"}, kc...)...); code != 0 || !strings.Contains(out, "reason: OOMKilled") {
		t.Fatalf("status pi -o yaml: exit %d\n%s", code, out)
	}
	if code, _, errOut = cli(t, append([]string{"status", "-o", "xml"}, kc...)...); code != exitInput || !strings.Contains(errOut, "unknown output format 'xml': use one of text, wide, json, yaml, name") {
		t.Fatalf("status -o xml: exit %d, %s", code, errOut)
	}
	testStatusWatch(t, e, ns, kc)
}

// testStatusWatch runs status -w until its context ends: it prints the
// state, then again after a change.
func testStatusWatch(t *testing.T, e *testenv.Env, ns string, kc []string) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var buf syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"status", "-w", "-o", "name", "-l", "team=etl"}, kc...), &buf, &buf)
	}()
	testenv.Eventually(t, 30*time.Second, "the first print", func() (bool, string) {
		return strings.Count(buf.String(), "sparkjob/pi\n") == 1, buf.String()
	})
	job := &v1alpha1.SparkJob{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "pi"}, job); err != nil {
		t.Fatal(err)
	}
	job.Annotations = map[string]string{"touched": "yes"}
	if err := e.Client.Update(ctx, job); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "a print after the change", func() (bool, string) {
		return strings.Count(buf.String(), "sparkjob/pi\n") >= 2, buf.String()
	})
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("status -w exited %d when its context ended:\n%s", code, buf.String())
	}
}
