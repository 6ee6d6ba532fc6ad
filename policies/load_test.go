package policies

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// writeFiles writes files (path → content) under a new temporary directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// policyYAML is a valid policy document with extra lines under spec.
func policyYAML(name string, spec ...string) string {
	return "apiVersion: sparkcd.io/v1alpha1\nkind: AllocationPolicy\nmetadata:\n  name: " + name +
		"\nspec:\n  action: Enforce\n" + strings.Join(spec, "\n") + "\n"
}

func policyNames(policies []v1alpha1.AllocationPolicy) []string {
	var names []string
	for _, p := range policies {
		names = append(names, p.Name)
	}
	return names
}

func TestLoad(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"prod.yaml": "# the production policies\n---\n" + policyYAML("prod", "  rules:\n    maxExecutors: 60") +
			"---\n" + policyYAML("prod-batch") + "---\n# nothing\n",
		"teams/data.yml":           policyYAML("data", "  namespaces: [\"team-data\"]"),
		"teams/kustomization.yaml": "resources: [data.yml]\n",
		".git/config.yaml":         "not: a policy\n",
		"README.md":                "# policies\n",
	})
	got, err := Load(dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if diff := cmp.Diff([]string{"data", "prod", "prod-batch"}, policyNames(got)); diff != "" {
		t.Errorf("policies (-want +got):\n%s", diff)
	}
	if got[1].Spec.Rules == nil || *got[1].Spec.Rules.MaxExecutors != 60 {
		t.Errorf("prod's rules were not decoded: %+v", got[1].Spec.Rules)
	}
	one, err := Load(filepath.Join(dir, "teams", "data.yml"))
	if err != nil || len(one) != 1 {
		t.Errorf("Load of one file = %v, %v; want the data policy", policyNames(one), err)
	}
}

// loadErrorCase is one case of TestLoadErrors.
type loadErrorCase struct {
	name     string
	files    map[string]string
	want     []string // substrings of the error; "FILE" is the first file's path
	sentinel error
}

// loadFieldErrorCases are documents of the wrong shape: unknown fields,
// the wrong kind or version, a name taken twice.
func loadFieldErrorCases() []loadErrorCase {
	return []loadErrorCase{{
		name:     "unknown field",
		files:    map[string]string{"p.yaml": policyYAML("prod", "  rules:\n    maxExecutor: 60")},
		want:     []string{"'FILE': policy 'prod': field 'spec.rules.maxExecutor': unknown field"},
		sentinel: ErrUnknownField,
	}, {
		name:     "wrong kind",
		files:    map[string]string{"p.yaml": strings.Replace(policyYAML("prod"), "AllocationPolicy", "SparkJob", 1)},
		want:     []string{"'FILE': policy 'prod': field 'kind': not a sparkcd.io/v1alpha1 AllocationPolicy: kind is 'SparkJob', want 'AllocationPolicy'"},
		sentinel: ErrWrongKind,
	}, {
		name:     "wrong apiVersion",
		files:    map[string]string{"p.yaml": strings.Replace(policyYAML("prod"), "v1alpha1", "v1", 1)},
		want:     []string{"'FILE': policy 'prod': field 'apiVersion': not a sparkcd.io/v1alpha1 AllocationPolicy: apiVersion is 'sparkcd.io/v1', want 'sparkcd.io/v1alpha1'"},
		sentinel: ErrWrongKind,
	}, {
		name: "duplicate name",
		files: map[string]string{
			"a.yaml": policyYAML("prod"),
			"b.yaml": "---\n" + policyYAML("other") + "---\n" + policyYAML("prod"),
		},
		want:     []string{"b.yaml' document 2: policy 'prod': field 'metadata.name': duplicate policy name: 'prod' is already defined in 'FILE'"},
		sentinel: ErrDuplicateName,
	}}
}

// loadValueErrorCases are fields with values that do not parse or hold.
func loadValueErrorCases() []loadErrorCase {
	return []loadErrorCase{{
		name:     "bad duration",
		files:    map[string]string{"p.yaml": policyYAML("prod", "  rules:\n    maxExecutorIdleTimeout: ten minutes")},
		want:     []string{`'FILE': policy 'prod': field 'spec.rules.maxExecutorIdleTimeout': invalid value: time: invalid duration "ten minutes"`},
		sentinel: ErrInvalidValue,
	}, {
		name:     "bad duration in defaults",
		files:    map[string]string{"p.yaml": policyYAML("prod", "  defaults:\n    dynamicAllocation:\n      cachedExecutorIdleTimeout: 15 min")},
		want:     []string{"field 'spec.defaults.dynamicAllocation.cachedExecutorIdleTimeout': invalid value"},
		sentinel: ErrInvalidValue,
	}, {
		name:     "bad quantity",
		files:    map[string]string{"p.yaml": policyYAML("prod", "  rules:\n    nodeAllocatable: {cpu: 3400m, memory: 14 gigs}")},
		want:     []string{"'FILE': policy 'prod': field 'spec.rules.nodeAllocatable.memory': invalid value: quantities must match"},
		sentinel: ErrInvalidValue,
	}, {
		name:     "wrong type",
		files:    map[string]string{"p.yaml": policyYAML("prod", "  rules:\n    maxExecutors: sixty")},
		want:     []string{"'FILE': policy 'prod': field 'spec.rules.maxExecutors': invalid value: found a string, want a whole number"},
		sentinel: ErrInvalidValue,
	}, {
		name:     "ratio min above max",
		files:    map[string]string{"p.yaml": policyYAML("prod", "  rules:\n    executorAllocationRatio: {min: \"0.9\", max: \"0.5\"}")},
		want:     []string{"'FILE': policy 'prod': field 'spec.rules.executorAllocationRatio.min': invalid value: min 0.9 is above max 0.5"},
		sentinel: ErrInvalidValue,
	}, {
		name:     "bad glob",
		files:    map[string]string{"p.yaml": policyYAML("prod", "  namespaces: [\"spark-[prod\"]")},
		want:     []string{"'FILE': policy 'prod': field 'spec.namespaces[0]': invalid value: bad glob 'spark-[prod'"},
		sentinel: ErrInvalidValue,
	}}
}

// loadDocumentErrorCases are documents that are not YAML, several
// problems at once, and a directory without policies.
func loadDocumentErrorCases() []loadErrorCase {
	return []loadErrorCase{{
		name:     "duplicate key",
		files:    map[string]string{"p.yaml": policyYAML("prod", "  action: Audit")},
		want:     []string{"'FILE': policy 'prod': malformed document", `key "action" already set`},
		sentinel: ErrMalformed,
	}, {
		name:     "not YAML",
		files:    map[string]string{"p.yaml": "apiVersion: [\n"},
		want:     []string{"'FILE': malformed document"},
		sentinel: ErrMalformed,
	}, {
		name: "every problem at once",
		files: map[string]string{"p.yaml": policyYAML("prod", "  rules:\n    maxExecutor: 60") + "---\n" +
			strings.Replace(policyYAML("dev"), "Enforce", "Warn", 1)},
		want: []string{
			"'FILE' document 1: policy 'prod': field 'spec.rules.maxExecutor': unknown field",
			"'FILE' document 2: policy 'dev': field 'spec.action': invalid value: 'Warn' is neither 'Enforce' nor 'Audit'",
		},
		sentinel: ErrUnknownField,
	}, {
		name:     "no policies",
		files:    map[string]string{"README.md": "# nothing here\n", "empty.yaml": "# no documents\n"},
		want:     []string{"unable to load policies from", "no allocation policies found"},
		sentinel: ErrNoPolicies,
	}}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range slices.Concat(loadFieldErrorCases(), loadValueErrorCases(), loadDocumentErrorCases()) {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, tc.files)
			_, err := Load(dir)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			var names []string
			for n := range tc.files {
				names = append(names, n)
			}
			first := filepath.Join(dir, slices.Min(names))
			for _, w := range tc.want {
				w = strings.ReplaceAll(w, "FILE", first)
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\ndoes not contain\n%s", err, w)
				}
			}
			if !errors.Is(err, tc.sentinel) {
				t.Errorf("error %q is not %v", err, tc.sentinel)
			}
		})
	}
}

func TestLoadMissingDirectory(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nowhere"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing directory = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadFilesDuplicateAcrossFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a.yaml": policyYAML("p"), "b.yaml": policyYAML("p")})
	_, err := LoadFiles(filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml"))
	var pe *PolicyError
	if !errors.As(err, &pe) {
		t.Fatalf("LoadFiles = %v, want a *PolicyError", err)
	}
	want := &PolicyError{File: filepath.Join(dir, "b.yaml"), Policy: "p", Field: "metadata.name"}
	if diff := cmp.Diff(want, pe, cmpIgnoreErr); diff != "" {
		t.Errorf("PolicyError (-want +got):\n%s", diff)
	}
}
