package admission

import (
	"os"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/materialize"
)

// BenchmarkJob is one verdict on a golden job: defaults, validation and the
// trial materialisation, as each reconcile of the job loop pays it.
func BenchmarkJob(b *testing.B) {
	data, err := os.ReadFile("../render/materialize/testdata/materialize/python-dynamic.job.yaml")
	if err != nil {
		b.Fatal(err)
	}
	job := &v1alpha1.SparkJob{}
	if err := yaml.UnmarshalStrict(data, job); err != nil {
		b.Fatal(err)
	}
	opts := Options{Materialize: materialize.DefaultOptions()}
	b.ReportAllocs()
	for b.Loop() {
		if v := Job(job, opts); !v.Admitted() {
			b.Fatalf("not admitted: %+v", v.Findings)
		}
	}
}

// BenchmarkValidate is validation alone, for comparison.
func BenchmarkValidate(b *testing.B) {
	data, err := os.ReadFile("../render/materialize/testdata/materialize/python-dynamic.job.yaml")
	if err != nil {
		b.Fatal(err)
	}
	job := &v1alpha1.SparkJob{}
	if err := yaml.UnmarshalStrict(data, job); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		Validate(job)
	}
}
