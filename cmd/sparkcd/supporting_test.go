package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSupportingObjectsCommands: render prints the supporting objects
// before the job with the Secret redacted and exits 1 for a kind not
// allowed; --supporting-kinds changes what is allowed; check lists them.
func TestSupportingObjectsCommands(t *testing.T) {
	dir := t.TempDir()
	job := `apiVersion: sparkcd.io/v1alpha1
kind: SparkJob
metadata:
  name: pi
  namespace: spark
spec:
  type: Scala
  image: spark:4.0.0
  mainClass: org.apache.spark.examples.SparkPi
  mainApplicationFile: local:///opt/spark/examples/jars/spark-examples.jar
  sparkVersion: 4.0.0
  driver:
    envFrom:
    - secretRef: {name: creds}
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: spark
stringData:
  password: cmd-s3cret-value
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: spark
`
	if err := os.WriteFile(filepath.Join(dir, "job.yaml"), []byte(job), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := sparkcd(t, dir, "render", "job.yaml")
	if code != 1 || !strings.Contains(errOut, "kind-not-allowed") {
		t.Errorf("render: exit %d, stderr:\n%s", code, errOut)
	}
	if !strings.Contains(out, "password: '<redacted: 16 bytes>'") || strings.Index(out, "kind: Secret") > strings.Index(out, "kind: SparkJob") {
		t.Errorf("render does not print the redacted Secret before the job:\n%s", out)
	}
	if strings.Contains(out+errOut, "cmd-s3cret-value") {
		t.Errorf("render prints the Secret's value")
	}
	code, out, errOut = sparkcd(t, dir, "render", "job.yaml", "--supporting-kinds", "Secret,Deployment.apps")
	if code != 0 || !strings.Contains(out, "kind: Deployment") {
		t.Errorf("render --supporting-kinds: exit %d, stderr:\n%s", code, errOut)
	}
	code, out, _ = sparkcd(t, dir, "check", "job.yaml", "--supporting-kinds", "ConfigMap")
	if code != 1 || !strings.Contains(out, "FAIL Secret spark/creds  (job.yaml:16)") || !strings.Contains(out, "missing-reference") ||
		strings.Contains(out, "cmd-s3cret-value") {
		t.Errorf("check --supporting-kinds ConfigMap: exit %d:\n%s", code, out)
	}
}
