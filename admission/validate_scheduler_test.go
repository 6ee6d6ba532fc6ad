package admission

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// TestValidateBatchScheduler: an unknown batch scheduler is an error, and
// options the scheduler does not read, or a sparkConf scheduler name beside
// it, warnings naming the field.
func TestValidateBatchScheduler(t *testing.T) {
	opts := func(queue, pc string, res bool) *v1alpha1.BatchSchedulerConfiguration {
		o := &v1alpha1.BatchSchedulerConfiguration{}
		if queue != "" {
			o.Queue = &queue
		}
		if pc != "" {
			o.PriorityClassName = &pc
		}
		if res {
			o.Resources = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")}
		}
		return o
	}
	tests := []struct {
		name string
		bs   v1alpha1.BatchScheduler
		opts *v1alpha1.BatchSchedulerConfiguration
		conf map[string]string
		want []string
	}{
		{name: "volcano reads every option", bs: v1alpha1.VolcanoScheduler, opts: opts("q", "high", true)},
		{name: "yunikorn with a queue", bs: v1alpha1.YuniKornScheduler, opts: opts("root.q", "", false)},
		{name: "unknown", bs: "slurm", want: []string{"error invalid-enum spec.batchScheduler"}},
		{name: "options without a scheduler", opts: opts("q", "", false),
			want: []string{"warning ignored-scheduler-option spec.batchSchedulerOptions"}},
		{name: "coscheduling ignores all three", bs: v1alpha1.KubeSchedulerCoscheduling, opts: opts("q", "high", true),
			want: []string{"warning ignored-scheduler-option spec.batchSchedulerOptions.priorityClassName",
				"warning ignored-scheduler-option spec.batchSchedulerOptions.queue",
				"warning ignored-scheduler-option spec.batchSchedulerOptions.resources"}},
		{name: "a sparkConf scheduler name", bs: v1alpha1.VolcanoScheduler, conf: map[string]string{"spark.kubernetes.executor.scheduler.name": "x"},
			want: []string{`warning conflicting-spark-conf spec.sparkConf['spark.kubernetes.executor.scheduler.name']`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := validTestJob()
			if tt.bs != "" {
				j.Spec.BatchScheduler = &tt.bs
			}
			j.Spec.BatchSchedulerOptions = tt.opts
			j.Spec.SparkConf = tt.conf
			var got []string
			for _, f := range Job(j, Options{}).Findings {
				got = append(got, string(f.Severity)+" "+f.Rule+" "+f.Field)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}
