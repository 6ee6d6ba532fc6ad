package runid

import (
	"regexp"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

func TestSpecHash(t *testing.T) {
	s := func(v string) *string { return &v }
	base := func() *v1alpha1.SparkJob {
		return &v1alpha1.SparkJob{
			ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "spark", Labels: map[string]string{"team": "data"}},
			Spec: v1alpha1.SparkJobSpec{
				Type:      v1alpha1.ScalaApplication,
				Image:     s("apache/spark:3.5.3"),
				SparkConf: map[string]string{"b": "2", "a": "1", "c": "3"},
			},
		}
	}
	ref := SpecHash(base())
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(ref) {
		t.Fatalf("SpecHash() = %q, want 64 hex characters", ref)
	}
	tests := []struct {
		name   string
		mutate func(*v1alpha1.SparkJob)
		same   bool
	}{
		{name: "unchanged", mutate: func(*v1alpha1.SparkJob) {}, same: true},
		{name: "metadata noise", same: true, mutate: func(j *v1alpha1.SparkJob) {
			j.ResourceVersion, j.Generation, j.UID = "42", 7, "uid"
			j.Annotations = map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{}"}
			j.Labels[v1alpha1.LabelSource] = "flux.jobs"
			j.Labels["kustomize.toolkit.fluxcd.io/name"] = "jobs"
		}},
		{name: "status", same: true, mutate: func(j *v1alpha1.SparkJob) { j.Status.SpecHash = "x" }},
		{name: "explicit defaults", same: true, mutate: func(j *v1alpha1.SparkJob) {
			v1alpha1.SetDefaults(j)
		}},
		{name: "spec change", mutate: func(j *v1alpha1.SparkJob) { j.Spec.SparkConf["a"] = "2" }},
		{name: "namespace", mutate: func(j *v1alpha1.SparkJob) { j.Namespace = "other" }},
		{name: "pod label", mutate: func(j *v1alpha1.SparkJob) { j.Labels["team"] = "ml" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := base()
			tt.mutate(j)
			got := SpecHash(j)
			if (got == ref) != tt.same {
				t.Errorf("SpecHash() = %s, reference %s, want same=%v", got, ref, tt.same)
			}
		})
	}
	j := base()
	SpecHash(j)
	if j.Spec.ConcurrencyPolicy != "" {
		t.Error("SpecHash() changed its input")
	}
}
