package badinput

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sparkcd/sparkcd/admission"
	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/decryption"
	"github.com/sparkcd/sparkcd/policies"
	"github.com/sparkcd/sparkcd/render/build"
	"github.com/sparkcd/sparkcd/render/materialize"
)

// goodJob is a job every check admits.
func goodJob(name string) string {
	return fmt.Sprintf(`apiVersion: sparkcd.io/v1alpha1
kind: SparkJob
metadata:
  name: %s
spec:
  type: Scala
  image: apache/spark:3.5.3
  mainClass: org.apache.spark.examples.SparkPi
  mainApplicationFile: local:///opt/spark/examples/jars/spark-examples_2.12-3.5.3.jar
  arguments: ["100"]
  driver:
    cores: 1
    memory: 1g
    serviceAccount: spark
  executor:
    instances: 2
    cores: 1
    memory: 1g
`, name)
}

// goodJobs are the jobs every checkout of the suite holds beside the bad
// input; each must come out of every case intact.
var goodJobs = []string{"good-a", "good-b"}

// writeFile writes content to the slash-separated path below root.
func writeFile(t testing.TB, root, path, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyDir copies the files of testdata directory src to dst below root.
func copyDir(t testing.TB, src, root, dst string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, root, dst+"/"+e.Name(), string(b))
	}
}

// checkout is a repository checkout in a temporary directory (inside a
// parent directory, so that escapes have somewhere to go) with the good
// jobs, each in its own unit under jobs/, as "jobs/*" builds them.
func checkout(t testing.TB) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "repo")
	for _, name := range goodJobs {
		writeFile(t, root, "jobs/"+name+"/job.yaml", goodJob(name))
	}
	return root
}

// outcome is what the suite asserts of one build: the build errors, and
// each job's error findings as "rule field".
type outcome struct {
	errors []*build.BuildError
	jobs   map[string][]string
	// messages are each job's error findings, one per line, as
	// "field: message (rule)".
	messages map[string]string
}

// buildAndJudge builds "jobs/*" below root and judges every job with
// admission, the one judge of check, render, diff and both loops.
func buildAndJudge(t testing.TB, root string, set *policies.Set) outcome {
	t.Helper()
	res, err := build.Build(t.Context(), root, "jobs/*", build.DefaultBuildOptions())
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	out := outcome{errors: res.Errors, jobs: map[string][]string{}, messages: map[string]string{}}
	// As review.Check and the source loop do, between build and admission.
	decrypted := decryption.Decrypt(root, res, decryption.Options{Mask: true})
	opts := admission.Options{Materialize: materialize.DefaultOptions(), Decryption: decrypted}
	if set != nil {
		opts.Policies = set
	}
	for i := range res.Jobs {
		j := &res.Jobs[i]
		findings := admission.Built(j, opts).Findings
		key := j.Name
		if key == "" {
			key = "(unnamed)"
		}
		out.jobs[key] = append(out.jobs[key], errorKeys(findings)...)
		if out.jobs[key] == nil {
			out.jobs[key] = []string{}
		}
		for _, f := range findings {
			if f.Severity == v1alpha1.SeverityError {
				out.messages[key] += fmt.Sprintf("%s: %s (%s)\n", f.Field, f.Message, f.Rule)
			}
		}
	}
	return out
}

// errorKeys lists the error findings as "rule field", sorted.
func errorKeys(findings []v1alpha1.Finding) []string {
	var keys []string
	for _, f := range findings {
		if f.Severity == v1alpha1.SeverityError {
			keys = append(keys, strings.TrimSpace(f.Rule+" "+f.Field))
		}
	}
	sort.Strings(keys)
	return keys
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
