package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// examplePolicies is the directory of the example AllocationPolicies,
// wherever the install keeps them.
func examplePolicies(t *testing.T) string {
	t.Helper()
	for _, dir := range []string{"deploy/examples/policies", "deploy/base/config/policies"} {
		if _, err := os.Stat(filepath.Join(repoRoot(t), dir, "prod.yaml")); err == nil {
			return filepath.Join(repoRoot(t), dir)
		}
	}
	t.Fatal("no example policies: neither deploy/examples/policies nor deploy/base/config/policies holds prod.yaml")
	return ""
}

// staticProdJob is spark-pi in spark-prod with two static executors and only a
// zone: the prod policy's defaults make it dynamic and put it on spot
// nodes.
const staticProdJob = `apiVersion: sparkcd.io/v1alpha1
kind: SparkJob
metadata:
  name: spark-pi
  namespace: spark-prod
spec:
  type: Scala
  sparkVersion: 3.5.3
  image: apache/spark:3.5.3
  mainClass: org.apache.spark.examples.SparkPi
  mainApplicationFile: local:///opt/spark/examples/jars/spark-examples_2.12-3.5.3.jar
  nodeSelector:
    topology.kubernetes.io/zone: eu-west-1a
  driver:
    cores: 1
    memory: 1g
  executor:
    instances: 2
    cores: 1
    memory: 1g
`

// TestCheckShowsPolicyDefaults (issue 18, item 7): check --policies says
// what each policy's defaults changed in a job, in every format, and the
// job still passes.
func TestCheckShowsPolicyDefaults(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "job.yaml"), []byte(staticProdJob), 0o644); err != nil {
		t.Fatal(err)
	}
	pol := examplePolicies(t)
	want := []string{
		"spec.dynamicAllocation.enabled: (unset) → true [policy prod]",
		"spec.dynamicAllocation.minExecutors: (unset) → 0 [policy prod]",
		"spec.dynamicAllocation.maxExecutors: (unset) → 10 [policy prod]",
		"spec.executor.nodeSelector[node.kubernetes.io/lifecycle]: (unset) → spot [policy prod]",
		"spec.driver.nodeSelector[node.kubernetes.io/lifecycle]: (unset) → on-demand [policy prod]",
		`spec.executor.tolerations[0]: (unset) → {"effect":"NoSchedule","key":"node.kubernetes.io/lifecycle","operator":"Equal","value":"spot"} [policy prod]`,
	}
	code, out, errOut := sparkcd(t, dir, "check", ".", "--policies", pol)
	if code != 0 || !strings.Contains(out, "ok   spark-prod/spark-pi") {
		t.Fatalf("exit %d, want 0 (defaults are not findings)\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	for _, w := range want {
		if !strings.Contains(out, "     default "+w+"\n") {
			t.Errorf("text output lacks %q:\n%s", w, out)
		}
	}
	code, out, _ = sparkcd(t, dir, "check", ".", "--policies", pol, "-o", "github")
	if code != 0 || !strings.Contains(out, "::notice file=job.yaml,") || !strings.Contains(out, "title=policy defaults (spark-prod/spark-pi)::") || !strings.Contains(out, want[0]) {
		t.Errorf("github output (exit %d) lacks the defaults notice:\n%s", code, out)
	}
	for _, format := range []string{"json", "yaml"} {
		code, out, _ = sparkcd(t, dir, "check", ".", "--policies", pol, "-o", format)
		if code != 0 || !strings.Contains(out, "maxExecutors") || !strings.Contains(out, "before") {
			t.Errorf("-o %s (exit %d) lacks the defaults:\n%s", format, code, out)
		}
	}
	code, out, _ = sparkcd(t, dir, "check", ".", "--policies", pol, "-o", "json")
	var doc struct {
		Jobs []struct {
			Defaults []struct{ Policy, Field, Before, After string } `json:"defaults"`
		} `json:"jobs"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 0 || len(doc.Jobs) != 1 {
		t.Fatalf("json: exit %d, %v:\n%s", code, err, out)
	}
	found := false
	for _, d := range doc.Jobs[0].Defaults {
		found = found || d.Policy == "prod" && d.Field == "spec.dynamicAllocation.maxExecutors" && d.Before == "" && d.After == "10"
	}
	if !found {
		t.Errorf("json defaults lack prod's maxExecutors 10: %+v", doc.Jobs[0].Defaults)
	}
	// Without policies nothing is defaulted, and nothing is said.
	if _, out, _ = sparkcd(t, dir, "check", "."); strings.Contains(out, "default ") {
		t.Errorf("check without --policies lists defaults:\n%s", out)
	}
}
