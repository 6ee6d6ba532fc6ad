package runid

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

func TestAppliedSpecDigest(t *testing.T) {
	s := func(v string) *string { return &v }
	f := false
	base := func() *v1alpha1.SparkJob {
		return &v1alpha1.SparkJob{
			ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "spark", Labels: map[string]string{"team": "data"}},
			Spec: v1alpha1.SparkJobSpec{
				Type:  v1alpha1.ScalaApplication,
				Image: s("apache/spark:3.5.3"),
				Driver: v1alpha1.DriverSpec{SparkPodSpec: v1alpha1.SparkPodSpec{
					Env:      []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{FileKeyRef: &corev1.FileKeySelector{Key: "k", Path: "p", VolumeName: "v"}}}},
					Sidecars: []corev1.Container{{Name: "s", Ports: []corev1.ContainerPort{{ContainerPort: 80}}}},
				}},
				Volumes: []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{RBD: &corev1.RBDVolumeSource{RBDImage: "i"}}}},
			},
		}
	}
	ref, err := AppliedSpecDigest(base())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(*v1alpha1.SparkJob)
		same   bool
	}{
		{name: "the CRD's defaults set", same: true, mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.Driver.Env[0].ValueFrom.FileKeyRef.Optional = &f
			j.Spec.Driver.Sidecars[0].Ports[0].Protocol = corev1.ProtocolTCP
			j.Spec.Volumes[0].RBD.RBDPool, j.Spec.Volumes[0].RBD.RadosUser = "rbd", "admin"
		}},
		{name: "SetDefaults' default set", same: true, mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.ConcurrencyPolicy = v1alpha1.ForbidConcurrent
		}},
		{name: "a tool's label", same: true, mutate: func(j *v1alpha1.SparkJob) { j.Labels["sparkcd.io/source"] = "x" }},
		{name: "an annotation", same: true, mutate: func(j *v1alpha1.SparkJob) { j.Annotations = map[string]string{"a": "b"} }},
		{name: "the status", same: true, mutate: func(j *v1alpha1.SparkJob) { j.Status.SpecHash = "x" }},
		{name: "image", mutate: func(j *v1alpha1.SparkJob) { j.Spec.Image = s("evil/spark:1") }},
		{name: "optional true", mutate: func(j *v1alpha1.SparkJob) {
			tr := true
			j.Spec.Driver.Env[0].ValueFrom.FileKeyRef.Optional = &tr
		}},
		{name: "a pod label", mutate: func(j *v1alpha1.SparkJob) { j.Labels["extra"] = "1" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := base()
			tt.mutate(j)
			got, err := AppliedSpecDigest(j)
			if err != nil {
				t.Fatal(err)
			}
			if (got == ref) != tt.same {
				t.Errorf("AppliedSpecDigest() equal to the base's = %v, want %v", got == ref, tt.same)
			}
		})
	}
}
