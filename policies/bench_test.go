package policies

import (
	"fmt"
	"testing"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// benchJobs are 1,000 jobs shaped like the examples, spread over the prod
// and dev namespaces and one no example policy names.
func benchJobs() []*v1alpha1.SparkJob {
	bases := []func() *v1alpha1.SparkJob{exampleSparkPi, exampleSireneCount, exampleNightlyETL}
	overlays := []func(*v1alpha1.SparkJob) *v1alpha1.SparkJob{prodOverlay, devOverlay,
		func(j *v1alpha1.SparkJob) *v1alpha1.SparkJob { j.Namespace = "team-data"; return j }}
	jobs := make([]*v1alpha1.SparkJob, 1000)
	for i := range jobs {
		j := overlays[i%len(overlays)](bases[i%len(bases)]())
		j.Name = fmt.Sprintf("%s-%04d", j.Name, i)
		jobs[i] = j
	}
	return jobs
}

// BenchmarkApply checks 1,000 jobs against the three example policies; one
// op is the whole repository.
func BenchmarkApply(b *testing.B) {
	policies, err := Load("testdata/examples")
	if err != nil {
		b.Fatal(err)
	}
	s := mustSet(b, policies...)
	jobs := benchJobs()
	b.ReportAllocs()
	for b.Loop() {
		for _, j := range jobs {
			s.Apply(j)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(jobs)), "ns/job")
}

// BenchmarkComputeEnvelope sizes the same 1,000 jobs, as check does after
// Apply.
func BenchmarkComputeEnvelope(b *testing.B) {
	jobs := benchJobs()
	b.ReportAllocs()
	for b.Loop() {
		for _, j := range jobs {
			if _, err := ComputeEnvelope(j); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(jobs)), "ns/job")
}
