package corpus

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sparkcd/sparkcd/admission"
	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/review"
	"github.com/sparkcd/sparkcd/render/materialize"
)

// corpusDir holds the manifests, one source file each.
const corpusDir = "operator"

// minFiles is the size issue #13 asks of the corpus.
const minFiles = 40

// ruleUnsupported is the rule of a field sparkcd reads but does not honour.
const ruleUnsupported = "unsupported-field"

// expectation is a finding a corpus file may keep once issue #13 is done,
// because it is legitimate. The list is short on purpose: every entry is a
// field that cannot apply to sparkcd's model, or a later issue's subject,
// or, for one file, a mistake of that file the API server refuses too
// (the file must then yield the finding).
type expectation struct {
	file        string // the one file it is about; "" for any file
	rule, field string
	severity    v1alpha1.Severity
	why         string
}

var expected = []expectation{
	{file: "awslabs-data-on-eks_spark-operator-benchmarks_spark-app-without-webhook.yaml",
		rule: admission.RuleInvalidToleration, field: "spec.executor.template.spec.tolerations[0].key", severity: v1alpha1.SeverityError,
		why: `the upstream file's executor toleration key ends in '"' (a typo): the API server refuses every executor pod the driver creates, so sparkcd refuses the job`},
}

// isExpected reports whether f, a finding on file, is on the expectation
// list.
func isExpected(file string, f v1alpha1.Finding) bool {
	return slices.ContainsFunc(expected, func(e expectation) bool {
		return (e.file == "" || e.file == filepath.Base(file)) && e.rule == f.Rule && e.field == f.Field && e.severity == f.Severity
	})
}

// bad reports whether f fails the corpus: any error, and any
// unsupported-field finding, unless expected.
func bad(file string, f v1alpha1.Finding) bool {
	if isExpected(file, f) {
		return false
	}
	return f.Severity == v1alpha1.SeverityError || f.Rule == ruleUnsupported
}

// missingExpected returns the expectations about file that its findings
// lack.
func missingExpected(file string, report *review.Report) []expectation {
	var out []expectation
	for _, e := range expected {
		if e.file != filepath.Base(file) {
			continue
		}
		found := false
		for _, j := range report.Jobs {
			found = found || slices.ContainsFunc(j.Findings, func(f v1alpha1.Finding) bool {
				return e.rule == f.Rule && e.field == f.Field && e.severity == f.Severity
			})
		}
		if !found {
			out = append(out, e)
		}
	}
	return out
}

// unexpectedErrors counts the error findings of j not on the list.
func unexpectedErrors(file string, j review.JobReport) int {
	n := 0
	for _, f := range j.Findings {
		if f.Severity == v1alpha1.SeverityError && !isExpected(file, f) {
			n++
		}
	}
	return n
}

// corpusFiles lists the corpus, failing when it is smaller than issue #13
// asks or when a file has no line in SOURCES.
func corpusFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < minFiles {
		t.Fatalf("the corpus holds %d files, want at least %d", len(files), minFiles)
	}
	sources := sourcesFiles(t)
	for _, f := range files {
		if !sources[filepath.Base(f)] {
			t.Errorf("%s has no line in %s/SOURCES", f, corpusDir)
		}
	}
	return files
}

// sourcesFiles reads the file names SOURCES records.
func sourcesFiles(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(corpusDir, "SOURCES"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, ok := strings.Cut(line, "|")
		if !ok {
			t.Fatalf("SOURCES: malformed line %q", line)
		}
		out[name] = true
	}
	return out
}

// checkFile runs the review `sparkcd check` and `sparkcd render` run, on
// one corpus file.
func checkFile(t *testing.T, file string) *review.Report {
	t.Helper()
	root, err := filepath.Abs(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	report, err := review.Check(t.Context(), root, filepath.Base(file), review.DefaultOptions())
	if err != nil {
		t.Fatalf("%s: check: %v", file, err)
	}
	return report
}

// describe lists findings one a line, for a failure message.
func describe(fs []v1alpha1.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "\n    %s %s %s: %s", f.Severity, f.Rule, f.Field, f.Message)
	}
	return b.String()
}

// TestCorpusCheckAndRender runs `check` and `render` on every corpus file,
// as `sparkcd check FILE` and `sparkcd render FILE` do, and fails on each
// file that yields no job, an error, or an unsupported-field finding not on
// the expectation list, naming the file and listing its findings.
func TestCorpusCheckAndRender(t *testing.T) {
	failed := 0
	files := corpusFiles(t)
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			defer func() {
				if t.Failed() {
					failed++
				}
			}()
			report := checkFile(t, file)
			jobs := 0
			for _, j := range report.Jobs {
				if j.Name != "" {
					jobs++
				}
				var offending []v1alpha1.Finding
				for _, f := range j.Findings {
					if bad(file, f) {
						offending = append(offending, f)
					}
				}
				if len(offending) > 0 {
					t.Errorf("%s: job '%s': %d findings sparkcd must not give a SparkApplication the Operator runs:%s",
						file, j.Name, len(offending), describe(offending))
				}
			}
			if jobs == 0 {
				t.Errorf("%s: no job read", file)
			}
			for _, e := range missingExpected(file, report) {
				t.Errorf("%s: no %s %s finding on %s, which the expectation list says it has (%s)", file, e.severity, e.rule, e.field, e.why)
			}
			objs, err := report.RunObjects("", materialize.DefaultOptions())
			if err != nil {
				t.Fatalf("%s: render: %v", file, err)
			}
			var out bytes.Buffer
			if err := review.WriteObjects(&out, objs, "yaml"); err != nil {
				t.Fatalf("%s: render -o yaml: %v", file, err)
			}
		})
	}
	if failed > 0 {
		t.Logf("%d of %d corpus files fail check or render", failed, len(files))
	}
}
