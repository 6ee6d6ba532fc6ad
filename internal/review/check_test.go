package review

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run 'go test ./internal/review -update' to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

// TestCheckFormatsGolden checks testdata/check — one clean job, one that
// breaks a policy, one with a typo — and writes every output format.
func TestCheckFormatsGolden(t *testing.T) {
	report, err := Check(t.Context(), "testdata/check", ".", testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	s := report.Summary()
	if s.Jobs != 3 || s.Errors < 2 {
		t.Errorf("summary = %+v, want 3 jobs and at least 2 errors", s)
	}
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := report.Write(&buf, format); err != nil {
				t.Fatal(err)
			}
			golden(t, "check."+format+".golden", buf.String())
		})
	}
}

// TestCheckJSONSchema pins the keys of `check -o json`, which CI scripts
// parse.
func TestCheckJSONSchema(t *testing.T) {
	report, err := Check(t.Context(), "testdata/check", ".", testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := report.Write(&buf, "json"); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Jobs    []map[string]json.RawMessage `json:"jobs"`
		Summary map[string]int               `json:"summary"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, j := range doc.Jobs {
		for _, k := range []string{"name", "namespace", "source", "findings"} {
			if _, ok := j[k]; !ok {
				t.Errorf("job lacks %q: %v", k, j)
			}
		}
		var fs []map[string]any
		if err := json.Unmarshal(j["findings"], &fs); err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			var keys []string
			for k := range f {
				keys = append(keys, k)
			}
			if len(f) != 5 {
				t.Errorf("finding keys = %v, want severity, rule, field, message, policy", keys)
			}
		}
	}
	if diff := cmp.Diff([]string{"errors", "jobs", "warnings"}, sortedKeys(doc.Summary)); diff != "" {
		t.Errorf("summary keys (-want +got):\n%s", diff)
	}
}

func sortedKeys(m map[string]int) []string {
	var out []string
	for _, k := range []string{"errors", "jobs", "warnings"} {
		if _, ok := m[k]; ok {
			out = append(out, k)
		}
	}
	if len(out) != len(m) {
		out = append(out, "unexpected")
	}
	return out
}
