package main

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestOutputFormats (issue 18, item 8): one wording for an unknown format
// on render, check and diff (exit 2); -o yaml on check and diff; check
// --errors-only and --fail-on; render marks where each job starts.
func TestOutputFormats(t *testing.T) {
	root := repoRoot(t)
	dev := "jobs/examples/overlays/dev"
	for _, args := range [][]string{
		{"check", dev, "-o", "xml"},
		{"diff", "--from", "HEAD", dev, "-o", "xml"},
	} {
		code, _, errOut := sparkcd(t, root, args...)
		if want := "unknown output format 'xml': use one of text, json, yaml, github, markdown, wide, name"; code != 2 || !strings.Contains(errOut, want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", args, code, errOut, want)
		}
	}
	if code, _, errOut := sparkcd(t, root, "render", dev, "-o", "xml"); code != 2 || !strings.Contains(errOut, "unknown output format 'xml': use one of yaml, json, name") {
		t.Errorf("render -o xml: exit %d, stderr %q", code, errOut)
	}

	code, out, errOut := sparkcd(t, root, "check", dev, "--policies", "policies/testdata/examples", "-o", "yaml")
	var doc struct {
		Jobs    []map[string]any `json:"jobs"`
		Summary map[string]int   `json:"summary"`
	}
	if err := yaml.Unmarshal([]byte(out), &doc); err != nil || len(doc.Jobs) == 0 || doc.Summary["jobs"] != len(doc.Jobs) {
		t.Errorf("check -o yaml: exit %d, %v, %s\n%s", code, err, errOut, out)
	}
	wantErrors := doc.Summary["errors"]

	code, out, _ = sparkcd(t, root, "check", dev, "--policies", "policies/testdata/examples", "--errors-only")
	if strings.Contains(out, "ok   ") || strings.Contains(out, "warning ") || !strings.Contains(out, itoa(wantErrors)+" error") {
		t.Errorf("check --errors-only: exit %d, shows more than the errors or not the counts:\n%s", code, out)
	}
	if wantErrors > 0 && code != 1 {
		t.Errorf("check --errors-only with %d errors: exit %d", wantErrors, code)
	}
	if code, _, _ := sparkcd(t, root, "check", dev, "--policies", "policies/testdata/examples", "--fail-on", "none"); code != 0 {
		t.Errorf("check --fail-on none: exit %d", code)
	}
	if code, _, errOut := sparkcd(t, root, "check", dev, "--fail-on", "maybe"); code != 2 || !strings.Contains(errOut, "use one of error, warning, none") {
		t.Errorf("check --fail-on maybe: exit %d, %s", code, errOut)
	}

	code, out, errOut = sparkcd(t, root, "render", dev)
	if code != 0 || strings.Count(out, "\n# --- job spark-dev/") != 2 || !strings.HasPrefix(out, "# --- job spark-dev/nightly-etl (jobs/examples/base/nightly-etl/job.yaml)\n") {
		t.Errorf("render: exit %d, %s, no marker per job:\n%s", code, errOut, lastLines(out, 5))
	}
}
