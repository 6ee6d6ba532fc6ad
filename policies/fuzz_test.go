package policies

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadDocument decodes and validates arbitrary bytes as one policy
// document, as LoadFiles does for each document of a file: it must never
// panic, and it either yields a policy with a name or errors that each
// wrap a sentinel. The seed corpus is every policy file under testdata and
// test/badinput/testdata/policies, so plain go test runs it.
func FuzzLoadDocument(f *testing.F) {
	for _, dir := range []string{"testdata/examples", "../test/badinput/testdata/policies"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("apiVersion: sparkcd.io/v1alpha1\nkind: AllocationPolicy\nmetadata: {name: [a]}\nspec: {rules: {maxExecutors: 1e99}}\n"))
	f.Add([]byte("apiVersion: sparkcd.io/v1alpha1\nkind: AllocationPolicy\nmetadata: {name: p}\nspec: {rules: {executorAllocationRatio: {min: NaN, max: -Inf}}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, errs := loadDocument(data, "'fuzz.yaml'", map[string]string{})
		if p != nil && len(errs) > 0 {
			t.Fatalf("both a policy and errors: %v", errs)
		}
		if p != nil && p.Name == "" {
			t.Fatalf("a policy without a name")
		}
		for _, e := range errs {
			if e.Err == nil || strings.TrimSpace(e.Error()) == "" {
				t.Fatalf("an error that says nothing: %#v", e)
			}
			if !wrapsSentinel(e) {
				t.Fatalf("error %q wraps no sentinel error", e)
			}
		}
	})
}

func wrapsSentinel(e *PolicyError) bool {
	for _, s := range []error{ErrNoPolicies, ErrMalformed, ErrWrongKind, ErrUnknownField, ErrDuplicateName, ErrInvalidValue} {
		if errors.Is(e, s) {
			return true
		}
	}
	return false
}
