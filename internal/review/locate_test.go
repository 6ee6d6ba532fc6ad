package review

import (
	"bytes"
	"strings"
	"testing"
)

// TestGitHubAnnotationAtPatch (issue 18, item 10): the annotation of a
// finding whose value an overlay's patch sets points at the patch file,
// not at the base file the job comes from; a value the base sets still
// points at the base.
func TestGitHubAnnotationAtPatch(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "base/job.yaml", `apiVersion: sparkcd.io/v1alpha1
kind: SparkJob
metadata:
  name: pi
spec:
  type: Scala
  sparkVersion: 3.5.3
  image: apache/spark:3.5.3
  mainClass: org.apache.spark.examples.SparkPi
  mainApplicationFile: local:///opt/spark/examples/jars/spark-examples_2.12-3.5.3.jar
  driver:
    cores: 1
    memory: 1g
  executor:
    instances: 2
    cores: 1
    memory: 3Gi
`)
	writeFile(t, root, "base/kustomization.yaml", "resources: [job.yaml]\n")
	writeFile(t, root, "prod/kustomization.yaml", `namespace: spark
resources: [../base]
patches:
  - path: patches/memory.yaml
    target: {kind: SparkJob, name: pi}
`)
	writeFile(t, root, "prod/patches/memory.yaml", `apiVersion: sparkcd.io/v1alpha1
kind: SparkJob
metadata:
  name: any
spec:
  driver:
    memory: 4Gi
`)
	r, err := Check(t.Context(), root, "prod", DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.Write(&buf, "github"); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"::error file=prod/patches/memory.yaml,line=7,title=invalid-memory (spark/pi)::spec.driver.memory",
		"::error file=base/job.yaml,line=17,title=invalid-memory (spark/pi)::spec.executor.memory",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
}
