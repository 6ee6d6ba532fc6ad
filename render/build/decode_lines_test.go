package build

import (
	"errors"
	"strings"
	"testing"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// tree writes files (path: content) under a new root.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	writeFiles(t, root, files)
	return root
}

const linesJob = `apiVersion: sparkcd.io/v1alpha1
kind: SparkJob
metadata:
  name: %s
spec:
  type: Scala
  image: apache/spark:3.5.3
  mainClass: org.apache.spark.examples.SparkPi
  mainApplicationFile: local:///opt/spark/examples/jars/spark-examples.jar
`

// multiDoc is a file whose second and third documents write keys twice,
// behind separators with comments and blank lines.
var multiDoc = "# leading comment\n\n" + strings.ReplaceAll(linesJob, "%s", "first") + // lines 3-11
	"--- # the second\n" + // 12
	"\n\n# about the second\n" + // 13-15
	strings.ReplaceAll(linesJob, "%s", "second") + // 16-24
	"  image: apache/spark:3.4.1\n" + // 25
	"---\n" + // 26
	"\n" + // 27
	strings.ReplaceAll(linesJob, "%s", "third") + // 28-36
	"  sparkConf:\n" + // 37
	"    spark.app.name: x\n" + // 38
	"    spark.app.name: y\n" + // 39
	"  volumes:\n" + // 40
	"  - name: data\n" + // 41
	"    name: other\n" // 42

// TestMultiDocumentLines checks that the findings of a multi-document
// file carry the lines of the file, read directly and through an overlay.
func TestMultiDocumentLines(t *testing.T) {
	root := tree(t, map[string]string{
		"plain/jobs.yaml":                   multiDoc,
		"base/jobs.yaml":                    multiDoc,
		"base/kustomization.yaml":           "resources:\n- jobs.yaml\n",
		"overlay/kustomization.yaml":        "namespace: team\nresources:\n- ../base\n",
		"overlay/unused/kustomization.yaml": "resources: []\n",
	})
	want := map[string][]string{
		"second": {`spec.image: field 'spec.image' is set twice: line 25: mapping key "image" already defined at line 22`},
		"third": {
			`spec.sparkConf[spark.app.name]: field 'spec.sparkConf[spark.app.name]' is set twice: line 39: mapping key "spark.app.name" already defined at line 38`,
			`spec.volumes[0].name: field 'spec.volumes[0].name' is set twice: line 42: mapping key "name" already defined at line 41`,
		},
	}
	for _, path := range []string{"plain/jobs.yaml", "overlay"} {
		t.Run(path, func(t *testing.T) {
			res, err := Build(t.Context(), root, path, DefaultBuildOptions())
			if err != nil || len(res.Errors) > 0 {
				t.Fatalf("Build: %v %v", err, res.Errors)
			}
			got := map[string][]string{}
			for _, j := range res.Jobs {
				for _, f := range j.Findings {
					got[j.Name] = append(got[j.Name], f.Field+": "+f.Message)
					if f.Rule != RuleDuplicateField {
						t.Errorf("job %s: rule %s, want %s", j.Name, f.Rule, RuleDuplicateField)
					}
				}
				if j.Origin.File == "" {
					t.Errorf("job %s has no source file", j.Name)
				}
			}
			if len(got) != len(want) {
				t.Errorf("findings on %d jobs, want %d: %v", len(got), len(want), got)
			}
			for job, w := range want {
				if strings.Join(got[job], "\n") != strings.Join(w, "\n") {
					t.Errorf("job %s:\n got %q\nwant %q", job, got[job], w)
				}
			}
			file := "plain/jobs.yaml"
			if path == "overlay" {
				file = "base/jobs.yaml"
			}
			for _, tc := range []struct {
				job, field string
				line       int
			}{{"second", "spec.image", 25}, {"third", "spec.volumes[0].name", 42}, {"third", "spec.mainClass", 35}} {
				if l := Locate(root, Origin{File: file, Kind: "SparkJob"}, tc.job, tc.field); l != tc.line {
					t.Errorf("Locate(%s, %s) = %d, want %d", tc.job, tc.field, l, tc.line)
				}
			}
		})
	}
}

// TestMultiDocumentSyntaxError checks that a syntax error in a later
// document names the line of the file, for an error of YAML's scanner (a
// tab) and of its parser (an unclosed flow sequence).
func TestMultiDocumentSyntaxError(t *testing.T) {
	head := strings.ReplaceAll(linesJob, "%s", "a") + "--- # next\n\n# comment\n" +
		strings.ReplaceAll(linesJob, "%s", "b") + "---\n" +
		"apiVersion: sparkcd.io/v1alpha1\nkind: SparkJob\nmetadata:\n  name: c\n" // lines 1-26
	tests := []struct{ name, tail, want string }{
		{name: "tab", tail: "spec:\n\ttype: Scala\n", want: "yaml: line 28: found character that cannot start any token"},
		{name: "unclosed flow", tail: "  labels: [a, b\nspec:\n  type: Scala\n", want: "yaml: line 27: did not find expected ',' or ']'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := tree(t, map[string]string{"jobs.yaml": head + tt.tail})
			res, err := Build(t.Context(), root, "jobs.yaml", DefaultBuildOptions())
			if err == nil && len(res.Errors) == 1 {
				err = res.Errors[0]
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if !errors.Is(err, ErrKustomize) {
				t.Errorf("error %v does not wrap ErrKustomize", err)
			}
		})
	}
}

func TestSyntaxErrorLines(t *testing.T) {
	data := []byte("a: 1\n---\n\nb: [1, 2\nc: 3\n")
	kustomize := errors.New("MalformedYAMLError: yaml: line 2: did not find expected ',' or ']' in File: x.yaml")
	got := syntaxErrorLines(data, kustomize)
	// The "[" that is not closed is on line 4 of the file.
	if got.Error() != "MalformedYAMLError: yaml: line 4: did not find expected ',' or ']' in File: x.yaml" {
		t.Errorf("got %q", got)
	}
	other := errors.New("yaml: line 2: something else")
	if got := syntaxErrorLines(data, other); got != other {
		t.Errorf("an error the file does not have was rewritten: %v", got)
	}
	if got := syntaxErrorLines([]byte("a: 1\n"), kustomize); got != kustomize {
		t.Errorf("an error of a valid file was rewritten: %v", got)
	}
}

// TestForeignKinds checks that an object of a Spark kind in a group
// sparkcd does not read is a job with an error naming the file, the line
// and the apiVersion, and that other objects are still skipped.
func TestForeignKinds(t *testing.T) {
	file := `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
---
# apache/spark-kubernetes-operator
apiVersion: spark.apache.org/v1
kind: SparkApplication
metadata:
  name: pi
spec:
  mainClass: org.apache.spark.examples.SparkPi
---
apiVersion: spark.apache.org/v1
kind: SparkCluster
metadata:
  name: cluster
---
apiVersion: sparkoperator.k8s.io/v1alpha1
kind: SparkConnect
metadata:
  name: connect
---
apiVersion: sparkoperator.hpe.com/v1beta2
kind: ScheduledSparkApplication
metadata:
  name: fork
---
apiVersion: example.com/v1
kind: SparkJob
metadata:
  name: other-sparkjob
---
apiVersion: sparkcd.io/v1alpha1
kind: JobSource
metadata:
  name: source
`
	root := tree(t, map[string]string{"jobs/all.yaml": file, "base/all.yaml": file,
		"base/kustomization.yaml": "resources:\n- all.yaml\n", "overlay/kustomization.yaml": "resources:\n- ../base\n"})
	want := map[string]string{
		"pi":             "unknown-kind: 'F' line 7: 'spark.apache.org/v1' SparkApplication 'pi' is a SparkApplication of the Apache Spark Kubernetes Operator",
		"cluster":        "unknown-kind: 'F' line 14: 'spark.apache.org/v1' SparkCluster 'cluster' is a standalone Spark cluster",
		"connect":        "unsupported-kind: 'F' line 19: 'sparkoperator.k8s.io/v1alpha1' SparkConnect 'connect' is not run by sparkcd",
		"fork":           "unknown-kind: 'F' line 24: apiVersion 'sparkoperator.hpe.com/v1beta2' and kind 'ScheduledSparkApplication' are not a job sparkcd reads",
		"other-sparkjob": "unknown-kind: 'F' line 29: apiVersion 'example.com/v1' and kind 'SparkJob' are not a job sparkcd reads",
	}
	for path, f := range map[string]string{"jobs/all.yaml": "jobs/all.yaml", "overlay": "base/all.yaml"} {
		t.Run(path, func(t *testing.T) {
			res, err := Build(t.Context(), root, path, DefaultBuildOptions())
			if err != nil || len(res.Errors) > 0 {
				t.Fatalf("Build: %v %v", err, res.Errors)
			}
			if len(res.Jobs) != len(want) {
				t.Errorf("%d jobs, want %d: %v", len(res.Jobs), len(want), jobLines(res.Jobs))
			}
			for _, j := range res.Jobs {
				w, ok := want[j.Name]
				if !ok {
					t.Errorf("unexpected job %s", j.Name)
					continue
				}
				w = strings.ReplaceAll(w, "'F'", "'"+f+"'")
				if j.Object != nil || len(j.Findings) != 1 || j.Findings[0].Severity != v1alpha1.SeverityError ||
					j.Findings[0].Field != "apiVersion" || !strings.HasPrefix(j.Findings[0].Rule+": "+j.Findings[0].Message, w) {
					t.Errorf("job %s: %+v, want one error on apiVersion starting %q", j.Name, j.Findings, w)
				}
				if !strings.Contains(j.Findings[0].Message, "sparkoperator.k8s.io/v1beta2") {
					t.Errorf("job %s: the message does not say what sparkcd reads instead: %s", j.Name, j.Findings[0].Message)
				}
			}
		})
	}
}

func TestDecodeForeignKinds(t *testing.T) {
	jobs, err := Decode([]byte("apiVersion: spark.apache.org/v1\nkind: SparkApplication\nmetadata:\n  name: pi\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"),
		Origin{File: "a.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || jobs[0].Name != "pi" || len(jobs[0].Findings) != 1 || jobs[0].Findings[0].Rule != RuleUnknownKind {
		t.Fatalf("Decode = %+v, want the SparkApplication with one unknown-kind finding", jobs)
	}
}
