package main

import (
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// TestColor (issue 18, item 8): --color=always colours check's verdicts
// and findings, never and a pipe do not, auto colours a terminal unless
// NO_COLOR is set; an unknown mode is bad input.
func TestColor(t *testing.T) {
	root := repoRoot(t)
	dev := "jobs/examples/overlays/dev"
	args := []string{"check", dev, "--policies", "policies/testdata/examples"}
	_, plain, _ := sparkcd(t, root, append(args, "--color=never")...)
	if ansi.MatchString(plain) {
		t.Errorf("--color=never colours:\n%q", plain)
	}
	_, coloured, _ := sparkcd(t, root, append(args, "--color=always")...)
	for _, want := range []string{"\x1b[33mwarn\x1b[0m spark-dev/spark-pi", "     \x1b[33mwarning\x1b[0m dynamic-allocation-required", "     \x1b[36mdefault\x1b[0m spec.dynamicAllocation"} {
		if !strings.Contains(coloured, want) {
			t.Errorf("--color=always lacks %q:\n%q", want, coloured)
		}
	}
	if got := ansi.ReplaceAllString(coloured, ""); got != plain {
		t.Errorf("colour changed more than colours:\n%s\nwant:\n%s", got, plain)
	}
	if _, out, _ := sparkcd(t, root, args...); ansi.MatchString(out) {
		t.Errorf("auto colours a pipe:\n%q", out)
	}
	if _, out, _ := sparkcd(t, root, append(args, "-o", "json", "--color=always")...); ansi.MatchString(out) {
		t.Errorf("-o json is coloured:\n%q", out)
	}

	saved := isTerminal
	isTerminal = func(io.Writer) bool { return true }
	t.Cleanup(func() { isTerminal = saved })
	if _, out, _ := sparkcd(t, root, args...); !ansi.MatchString(out) {
		t.Errorf("auto does not colour a terminal:\n%q", out)
	}
	t.Setenv("NO_COLOR", "1")
	if _, out, _ := sparkcd(t, root, args...); ansi.MatchString(out) {
		t.Errorf("auto colours with NO_COLOR set:\n%q", out)
	}
	if code, _, errOut := sparkcd(t, root, append(args, "--color=sometimes")...); code != exitInput || !strings.Contains(errOut, "invalid --color 'sometimes': use one of auto, always, never") {
		t.Errorf("--color=sometimes: exit %d, %s", code, errOut)
	}
}

// TestStatusColor: status colours the Ready status and the run phase, in
// the table and in the description of one object.
func TestStatusColor(t *testing.T) {
	e := env.Env(t)
	ns := e.Namespace(t)
	ctx := t.Context()
	job := piJob(ns)
	if err := e.Client.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	job.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionFalse, Reason: "PolicyViolation", Message: "refused", LastTransitionTime: metav1.Now()}}
	if err := e.Client.Status().Update(ctx, job); err != nil {
		t.Fatal(err)
	}
	kc := []string{"-n", ns, "--kubeconfig", e.Kubeconfig}
	for _, args := range [][]string{{"status"}, {"status", "pi"}} {
		code, coloured, errOut := cli(t, append(append(args, "--color=always"), kc...)...)
		if code != 0 || !strings.Contains(coloured, "\x1b[31mFalse\x1b[0m") {
			t.Errorf("%v --color=always: exit %d, %s, Ready=False not red:\n%q", args, code, errOut, coloured)
		}
		if _, plain, _ := cli(t, append(append(args, "--color=never"), kc...)...); ansi.MatchString(plain) {
			t.Errorf("%v --color=never colours:\n%q", args, plain)
		}
	}
}

// TestStatusColorAlignment: colour never moves a column of status's table
// or description (each coloured word takes the same bytes).
func TestStatusColorAlignment(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	old := metav1.NewTime(now.Add(-time.Hour))
	jobs := []v1alpha1.SparkJob{{
		ObjectMeta: metav1.ObjectMeta{Namespace: "spark", Name: "pi", CreationTimestamp: old},
		Status: v1alpha1.SparkJobStatus{
			Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionFalse, Reason: "PolicyViolation", Message: "refused", LastTransitionTime: old}},
			LastRun:    &v1alpha1.RunStatus{Name: "pi-1", Phase: v1alpha1.RunFailed, Reason: "Error"},
		},
	}, {
		ObjectMeta: metav1.ObjectMeta{Namespace: "spark", Name: "etl-nightly", CreationTimestamp: old},
		Status: v1alpha1.SparkJobStatus{
			Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Succeeded", LastTransitionTime: old}},
			LastRun:    &v1alpha1.RunStatus{Name: "etl-nightly-2", Phase: v1alpha1.RunSucceeded},
		},
	}}
	write := func(w io.Writer) {
		if err := writeStatusTable(w, nil, jobs, now, 60); err != nil {
			t.Fatal(err)
		}
		if err := describe(w, statusView{jobs: jobs[:1]}, now); err != nil {
			t.Fatal(err)
		}
	}
	var plain, coloured strings.Builder
	write(&plain)
	p := &painter{w: &coloured, rules: statusRules}
	write(p)
	if err := p.flush(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\x1b[31mFalse\x1b[0m", "\x1b[32mTrue\x1b[0m", "\x1b[31mFailed\x1b[0m", "\x1b[32mSucceeded\x1b[0m"} {
		if !strings.Contains(coloured.String(), want) {
			t.Errorf("lacks %q:\n%q", want, coloured.String())
		}
	}
	if got := ansi.ReplaceAllString(coloured.String(), ""); got != plain.String() {
		t.Errorf("colour moved the columns:\n%s\nwant:\n%s", got, plain.String())
	}
}
