package admission

import (
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// TestMaterializeGoldensValid checks that every job of the materialisation
// goldens is one admission accepts: a golden must show what a real run gets.
func TestMaterializeGoldensValid(t *testing.T) {
	files, err := filepath.Glob("../render/materialize/testdata/materialize/*.job.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden jobs: %v", err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		job := &v1alpha1.SparkJob{}
		if err := yaml.UnmarshalStrict(b, job); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, f := range Validate(job) {
			if f.Severity == v1alpha1.SeverityError {
				t.Errorf("%s: golden job is invalid: %s %s: %s", file, f.Rule, f.Field, f.Message)
			}
		}
	}
}
