package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// completions runs cobra's hidden __complete command in-process and
// returns the candidates and the directive line.
func completions(t *testing.T, args ...string) ([]string, string) {
	t.Helper()
	code, out, errOut := cli(t, append([]string{"__complete"}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %v: exit %d, %s", args, code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	return lines[:len(lines)-1], lines[len(lines)-1]
}

// TestCompletion (issue 18, item 8): the shell completes the names of
// SparkJobs, JobSources and runs from the cluster, namespaces for -n,
// every -o's values; and says nothing, fast, when there is no cluster.
func TestCompletion(t *testing.T) {
	e := env.Env(t)
	ns := e.Namespace(t)
	ctx := t.Context()
	for _, name := range []string{"pi", "pi-nightly"} {
		j := piJob(ns)
		j.Name = name
		if err := e.Client.Create(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	src := &v1alpha1.JobSource{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "jobs"}, Spec: v1alpha1.JobSourceSpec{URL: "https://git.example.com/jobs.git"}}
	if err := e.Client.Create(ctx, src); err != nil {
		t.Fatal(err)
	}
	pi := &v1alpha1.SparkJob{}
	if err := e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "pi"}, pi); err != nil {
		t.Fatal(err)
	}
	pi.Status.ActiveRuns = []string{"pi-m2"}
	pi.Status.LastRun = &v1alpha1.RunStatus{Name: "pi-m2", Phase: v1alpha1.RunRunning}
	pi.Status.History = []v1alpha1.RunStatus{{Name: "pi-m1", Phase: v1alpha1.RunSucceeded}}
	if err := e.Client.Status().Update(ctx, pi); err != nil {
		t.Fatal(err)
	}
	kc := []string{"--kubeconfig", e.Kubeconfig, "-n", ns}
	tests := []struct {
		args []string
		want []string
	}{
		{args: []string{"status", ""}, want: []string{"jobs", "pi", "pi-nightly"}},
		{args: []string{"status", "sparkjob/pi-"}, want: []string{"sparkjob/pi-nightly"}},
		{args: []string{"run", "p"}, want: []string{"pi", "pi-nightly"}},
		{args: []string{"logs", ""}, want: []string{"pi", "pi-nightly"}},
		{args: []string{"logs", "pi", "--run", ""}, want: []string{"pi-m1", "pi-m2"}},
		{args: []string{"stop", "pi", ""}, want: []string{"pi-m2"}},
		{args: []string{"suspend", ""}, want: []string{"sparkjob", "jobsource"}},
		{args: []string{"suspend", "sparkjob", ""}, want: []string{"pi", "pi-nightly"}},
		{args: []string{"resume", "jobsource/"}, want: []string{"jobsource/jobs"}},
		{args: []string{"reconcile", ""}, want: []string{"jobsource"}},
		{args: []string{"reconcile", "jobsource", ""}, want: []string{"jobs"}},
	}
	for _, tt := range tests {
		// The cluster flags right after the command: __complete takes the
		// last word as the one to complete.
		args := append(append([]string{tt.args[0]}, kc...), tt.args[1:]...)
		got, directive := completions(t, args...)
		if diff := cmp.Diff(tt.want, got); diff != "" || directive != ":4" {
			t.Errorf("__complete %v (-want +got), directive %s:\n%s", tt.args, directive, diff)
		}
	}
	got, _ := completions(t, "status", "--kubeconfig", e.Kubeconfig, "-n", ns[:len(ns)-1])
	if !slices.Contains(got, ns) {
		t.Errorf("-n completes %v, lacks %s", got, ns)
	}
	for cmdName, want := range map[string][]string{
		"status":  {"text", "wide", "json", "yaml", "name"},
		"check":   {"text", "json", "yaml", "github", "markdown", "wide", "name"},
		"render":  {"yaml", "json", "name"},
		"cleanup": {"text", "json"},
	} {
		if got, _ := completions(t, cmdName, "-o", ""); !cmp.Equal(got, want) {
			t.Errorf("%s -o completes %v, want %v", cmdName, got, want)
		}
	}
	if _, directive := completions(t, "check", "jobs/"); directive != ":0" {
		t.Errorf("check PATH: directive %s, want :0 (files and directories)", directive)
	}
}

// TestCompletionWithoutCluster: with no cluster to ask, completion offers
// nothing, says nothing, and returns at once.
func TestCompletionWithoutCluster(t *testing.T) {
	dead := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(dead, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
users: [{name: u, user: {token: x}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, kubeconfig := range []string{dead, filepath.Join(t.TempDir(), "missing")} {
		start := time.Now()
		code, out, errOut := cli(t, "__complete", "status", "--kubeconfig", kubeconfig, "")
		if code != 0 || out != ":4\n" || strings.TrimSpace(errOut) != "Completion ended with directive: ShellCompDirectiveNoFileComp" || time.Since(start) > 5*time.Second {
			t.Errorf("no cluster (%s): exit %d after %s\nstdout %q\nstderr %q", kubeconfig, code, time.Since(start), out, errOut)
		}
	}
}
