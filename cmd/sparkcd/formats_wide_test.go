package main

import (
	"strings"
	"testing"

	"github.com/sparkcd/sparkcd/internal/gittest"
)

// TestOutputWideAndName (issue 18, item 8): -o name prints one
// RESOURCE/NAMESPACE/NAME per job (check, diff) or object (render), as
// kubectl does; -o wide adds the kind, unit, run and defaults to check's
// job lines and the unchanged jobs and runs to diff's; an unknown format
// names them.
func TestOutputWideAndName(t *testing.T) {
	root := repoRoot(t)
	dev := "jobs/examples/overlays/dev"
	code, out, errOut := sparkcd(t, root, "check", dev, "-o", "name")
	if want := "sparkjob.sparkcd.io/spark-dev/nightly-etl\nsparkjob.sparkcd.io/spark-dev/sirene-count\nsparkjob.sparkcd.io/spark-dev/spark-pi\n"; code != 0 || out != want {
		t.Errorf("check -o name: exit %d, %s\ngot:\n%s\nwant:\n%s", code, errOut, out, want)
	}
	code, out, errOut = sparkcd(t, root, "check", dev, "-o", "wide", "--policies", "policies/testdata/examples")
	if code != 0 || !strings.Contains(out, "warn spark-dev/sirene-count  (jobs/examples/base/sirene-count/job.yaml)  kind=SparkJob unit=jobs/examples/overlays/dev run=sirene-count-") ||
		!strings.Contains(out, " defaults=3\n") {
		t.Errorf("check -o wide: exit %d, %s\n%s", code, errOut, out)
	}
	code, out, errOut = sparkcd(t, root, "render", dev, "-o", "name")
	for _, want := range []string{"sparkjob.sparkcd.io/spark-dev/spark-pi\n", "configmap/spark-dev/spark-pi-", "pod/spark-dev/spark-pi-", "service/spark-dev/spark-pi-"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("render -o name: exit %d, %s, lacks %q:\n%s", code, errOut, want, out)
		}
	}
	if strings.Contains(out, "apiVersion") {
		t.Errorf("render -o name prints objects:\n%s", out)
	}

	repo := gittest.NewRepo(t)
	job := func(name, memory string) string {
		return "apiVersion: sparkcd.io/v1alpha1\nkind: SparkJob\nmetadata: {name: " + name + ", namespace: spark}\nspec:\n  type: Scala\n  image: apache/spark:3.5.3\n" +
			"  mainClass: Main\n  mainApplicationFile: local:///app.jar\n  driver: {cores: 1, memory: " + memory + "}\n  executor: {instances: 1, cores: 1, memory: 1g}\n"
	}
	repo.WriteFile(t, "jobs/a.yaml", job("a", "1g"))
	repo.WriteFile(t, "jobs/b.yaml", job("b", "1g"))
	repo.Commit(t, "two jobs")
	repo.WriteFile(t, "jobs/a.yaml", job("a", "2g"))
	repo.Commit(t, "a grows")
	code, out, errOut = sparkcd(t, repo.Work, "diff", "--from", "HEAD~1", "jobs", "-o", "name")
	if code != 0 || out != "sparkjob.sparkcd.io/spark/a\n" {
		t.Errorf("diff -o name: exit %d, %s\n%q", code, errOut, out)
	}
	code, out, errOut = sparkcd(t, repo.Work, "diff", "--from", "HEAD~1", "jobs", "-o", "wide")
	if code != 0 || !strings.Contains(out, "UNCHANGED spark/b (jobs/b.yaml)") || !strings.Contains(out, "CHANGED spark/a (jobs/a.yaml)  run a-") {
		t.Errorf("diff -o wide: exit %d, %s\n%s", code, errOut, out)
	}
	if code, _, errOut = sparkcd(t, root, "check", dev, "-o", "xml"); code != 2 || !strings.Contains(errOut, "unknown output format 'xml': use one of text, json, yaml, github, markdown, wide, name") {
		t.Errorf("check -o xml: exit %d, %s", code, errOut)
	}
	for args, want := range map[string]string{
		"status":  "unknown output format 'xml': use one of text, wide, json, yaml, name",
		"cleanup": "unknown output format 'xml': use one of text, json",
	} {
		if code, _, errOut = sparkcd(t, root, args, "-o", "xml", "--kubeconfig", "/nonexistent"); code != 2 || !strings.Contains(errOut, want) {
			t.Errorf("%s -o xml: exit %d, %s, want %q", args, code, errOut, want)
		}
	}
	// history words an unknown format as every other command (issue 18 item 8).
	if code, _, errOut = sparkcd(t, root, "history", "pi", "-o", "csv", "--kubeconfig", "/nonexistent"); code != 2 || !strings.Contains(errOut, "unknown output format 'csv': use one of text, json, yaml") {
		t.Errorf("history -o csv: exit %d, %s", code, errOut)
	}
	if code, _, errOut = sparkcd(t, root, "render", dev, "-o", "wide"); code != 2 || !strings.Contains(errOut, "unknown output format 'wide': use one of yaml, json, name") {
		t.Errorf("render -o wide: exit %d, %s", code, errOut)
	}
}
