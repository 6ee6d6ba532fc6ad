package v1alpha1

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSetDefaults(t *testing.T) {
	three, five := int32(3), int32(5)
	tests := []struct {
		name string
		in   SparkJobSpec
		want SparkJobSpec
	}{
		{
			name: "empty",
			in:   SparkJobSpec{Type: ScalaApplication},
			want: SparkJobSpec{Type: ScalaApplication, Mode: ClusterMode, ConcurrencyPolicy: ForbidConcurrent,
				SuccessfulRunHistoryLimit: &three, FailedRunHistoryLimit: &three},
		},
		{
			name: "schedule gets UTC",
			in:   SparkJobSpec{Type: ScalaApplication, Schedule: "@daily"},
			want: SparkJobSpec{Type: ScalaApplication, Schedule: "@daily", TimeZone: "UTC", Mode: ClusterMode,
				ConcurrencyPolicy: ForbidConcurrent, SuccessfulRunHistoryLimit: &three, FailedRunHistoryLimit: &three},
		},
		{
			name: "set values are kept",
			in: SparkJobSpec{Type: PythonApplication, Schedule: "0 3 * * *", TimeZone: "Europe/Paris",
				ConcurrencyPolicy: ReplaceConcurrent, SuccessfulRunHistoryLimit: &five, FailedRunHistoryLimit: &five, Mode: ClusterMode},
			want: SparkJobSpec{Type: PythonApplication, Schedule: "0 3 * * *", TimeZone: "Europe/Paris",
				ConcurrencyPolicy: ReplaceConcurrent, SuccessfulRunHistoryLimit: &five, FailedRunHistoryLimit: &five, Mode: ClusterMode},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := &SparkJob{Spec: tt.in}
			SetDefaults(job)
			if diff := cmp.Diff(tt.want, job.Spec); diff != "" {
				t.Errorf("SetDefaults() mismatch (-want +got):\n%s", diff)
			}
			again := job.DeepCopy()
			SetDefaults(again)
			if diff := cmp.Diff(job.Spec, again.Spec); diff != "" {
				t.Errorf("SetDefaults() is not idempotent (-first +second):\n%s", diff)
			}
		})
	}
	SetDefaults(nil)
}
