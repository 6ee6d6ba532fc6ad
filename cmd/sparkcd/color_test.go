package main

import (
	"io"
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// TestStatusColor: status colours the Ready status and the run phase, and
// its columns stay where they are without colour.
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
		_, plain, _ := cli(t, append(append(args, "--color=never"), kc...)...)
		code, coloured, errOut := cli(t, append(append(args, "--color=always"), kc...)...)
		if code != 0 || !strings.Contains(coloured, "\x1b[31mFalse\x1b[0m") {
			t.Errorf("%v --color=always: exit %d, %s, Ready=False not red:\n%q", args, code, errOut, coloured)
		}
		if got := ansi.ReplaceAllString(coloured, ""); got != plain {
			t.Errorf("%v: colour moved the columns:\n%s\nwant:\n%s", args, got, plain)
		}
	}
}
