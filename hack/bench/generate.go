package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// jobYAML is one generated SparkJob, sized like a real one.
func jobYAML(name string, i int) string {
	return fmt.Sprintf(`apiVersion: sparkcd.io/v1alpha1
kind: SparkJob
metadata:
  name: %[1]s
  labels:
    team: team-%[3]d
spec:
  type: Python
  image: docker.io/apache/spark:3.5.3
  mainApplicationFile: local:///opt/jobs/%[1]s.py
  arguments: ["--date", "{{ds}}", "--partition", "%[2]d"]
  sparkVersion: "3.5.3"
  sparkConf:
    spark.sql.shuffle.partitions: "200"
  driver:
    cores: 1
    memory: 2g
    serviceAccount: spark
  executor:
    cores: 2
    memory: 4g
    instances: 2
  dynamicAllocation:
    enabled: true
    initialExecutors: 1
    minExecutors: 1
    maxExecutors: 20
    shuffleTrackingEnabled: true
`, name, i, i%10)
}

// prodPatch is what the prod overlay changes on every job.
const prodPatch = `patches:
- target:
    kind: SparkJob
  patch: |-
    - op: add
      path: /spec/logLevel
      value: ERROR
`

func jobName(i int) string { return fmt.Sprintf("job-%05d", i) }

// writeTree writes files (relative path → content) below dir.
func writeTree(dir string, files map[string]string) error {
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// generateSingle lays out n jobs in one base with one prod overlay over
// all of them: base/<job>.yaml, overlays/prod.
func generateSingle(dir string, n int) error {
	files := map[string]string{}
	var resources strings.Builder
	resources.WriteString("resources:\n")
	for i := range n {
		files["base/"+jobName(i)+".yaml"] = jobYAML(jobName(i), i)
		resources.WriteString("- " + jobName(i) + ".yaml\n")
	}
	files["base/kustomization.yaml"] = resources.String()
	files["overlays/prod/kustomization.yaml"] = "namespace: spark-prod\nresources:\n- ../../base\n" + prodPatch
	return writeTree(dir, files)
}

// generatePerJob lays out the same n jobs one overlay per job:
// jobs/<job>/base and jobs/<job>/overlays/prod.
func generatePerJob(dir string, n int) error {
	files := map[string]string{}
	for i := range n {
		job := "jobs/" + jobName(i)
		files[job+"/base/job.yaml"] = jobYAML(jobName(i), i)
		files[job+"/base/kustomization.yaml"] = "resources:\n- job.yaml\n"
		files[job+"/overlays/prod/kustomization.yaml"] = "namespace: spark-prod\nresources:\n- ../../base\n" + prodPatch
	}
	return writeTree(dir, files)
}
