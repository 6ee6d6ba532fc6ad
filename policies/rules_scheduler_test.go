package policies

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

func scheduled(bs v1alpha1.BatchScheduler, queue string) func(*v1alpha1.SparkJob) {
	return func(j *v1alpha1.SparkJob) {
		j.Spec.BatchScheduler = &bs
		if queue != "" {
			j.Spec.BatchSchedulerOptions = &v1alpha1.BatchSchedulerConfiguration{Queue: ptr(queue)}
		}
	}
}

// TestBatchSchedulerRules: rules batch-scheduler and queue, met and broken.
func TestBatchSchedulerRules(t *testing.T) {
	gang := v1alpha1.PolicyRules{BatchScheduler: &v1alpha1.BatchSchedulerRules{
		Allowed: []v1alpha1.BatchScheduler{v1alpha1.VolcanoScheduler, v1alpha1.YuniKornScheduler}}}
	queue := v1alpha1.PolicyRules{BatchScheduler: &v1alpha1.BatchSchedulerRules{RequireQueue: true, AllowedQueues: []string{"spark", "batch"}}}
	runRuleCases(t, []ruleCase{
		{name: "batch-scheduler met", rules: gang, job: testJob(scheduled(v1alpha1.YuniKornScheduler, ""))},
		{name: "batch-scheduler broken by none", rules: gang, job: testJob(),
			want: violated(RuleBatchScheduler, "spec.batchScheduler", "the job names no batch scheduler: set one of 'volcano' or 'yunikorn'")},
		{name: "batch-scheduler broken by another", rules: gang, job: testJob(scheduled(v1alpha1.KubeSchedulerCoscheduling, "")),
			want: violated(RuleBatchScheduler, "spec.batchScheduler", "'kube-scheduler' is not allowed here: set one of 'volcano' or 'yunikorn'")},
		{name: "queue met", rules: queue, job: testJob(scheduled(v1alpha1.VolcanoScheduler, "batch"))},
		{name: "queue broken by none", rules: queue, job: testJob(scheduled(v1alpha1.VolcanoScheduler, "")),
			want: violated(RuleQueue, "spec.batchSchedulerOptions.queue", "the job names no queue: set batchSchedulerOptions.queue: use one of 'spark' or 'batch'")},
		{name: "queue broken by another", rules: queue, job: testJob(scheduled(v1alpha1.VolcanoScheduler, "root.default")),
			want: violated(RuleQueue, "spec.batchSchedulerOptions.queue", "queue 'root.default' is not allowed here: use one of 'spark' or 'batch'")},
	})
}

// TestBatchSchedulerDefaults: a policy fills the scheduler and the queue a
// job leaves unset, and its own rules then hold; what the job sets stays.
func TestBatchSchedulerDefaults(t *testing.T) {
	p := testPolicy("p", &v1alpha1.PolicyRules{BatchScheduler: &v1alpha1.BatchSchedulerRules{
		Allowed: []v1alpha1.BatchScheduler{v1alpha1.VolcanoScheduler, v1alpha1.YuniKornScheduler}, RequireQueue: true}})
	bs := v1alpha1.VolcanoScheduler
	p.Spec.Defaults = &v1alpha1.PolicyDefaults{BatchScheduler: &bs,
		BatchSchedulerOptions: &v1alpha1.BatchSchedulerConfiguration{Queue: ptr("spark"), PriorityClassName: ptr("batch")}}
	s := mustSet(t, p)

	got, findings := s.Apply(testJob())
	if len(findings) != 0 {
		t.Errorf("findings of a defaulted job: %v", findings)
	}
	want := &v1alpha1.BatchSchedulerConfiguration{Queue: ptr("spark"), PriorityClassName: ptr("batch")}
	if *got.Spec.BatchScheduler != v1alpha1.VolcanoScheduler || !cmp.Equal(want, got.Spec.BatchSchedulerOptions) {
		t.Errorf("defaulted = %v %+v, want volcano %+v", *got.Spec.BatchScheduler, got.Spec.BatchSchedulerOptions, want)
	}
	got, _ = s.Apply(testJob(scheduled(v1alpha1.YuniKornScheduler, "root.etl")))
	if *got.Spec.BatchScheduler != v1alpha1.YuniKornScheduler || *got.Spec.BatchSchedulerOptions.Queue != "root.etl" ||
		*got.Spec.BatchSchedulerOptions.PriorityClassName != "batch" {
		t.Errorf("job's own settings replaced: %v %+v", *got.Spec.BatchScheduler, got.Spec.BatchSchedulerOptions)
	}
}

// TestBatchSchedulerPolicyValidation: an unknown scheduler, an empty queue
// and defaults the policy's own rules refuse are policy errors.
func TestBatchSchedulerPolicyValidation(t *testing.T) {
	bad := v1alpha1.BatchScheduler("slurm")
	kueue := v1alpha1.KueueScheduler
	p := v1alpha1.AllocationPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: v1alpha1.AllocationPolicySpec{
		Defaults: &v1alpha1.PolicyDefaults{BatchScheduler: &kueue, BatchSchedulerOptions: &v1alpha1.BatchSchedulerConfiguration{Queue: ptr("other")}},
		Rules: &v1alpha1.PolicyRules{BatchScheduler: &v1alpha1.BatchSchedulerRules{
			Allowed: []v1alpha1.BatchScheduler{v1alpha1.VolcanoScheduler, bad}, AllowedQueues: []string{"spark", ""}}},
	}}
	var got []string
	for _, e := range validatePolicy(&p) {
		got = append(got, e.Field)
	}
	want := []string{"spec.rules.batchScheduler.allowed[1]", "spec.rules.batchScheduler.allowedQueues[1]",
		"spec.defaults.batchScheduler", "spec.defaults.batchSchedulerOptions.queue"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("invalid fields (-want +got):\n%s", diff)
	}
}

// TestEnvelopeGang: the envelope of a gang-scheduled job names its
// scheduler, its queue and its gang (the driver and the executors it asks
// for at start: the initial count with dynamic allocation, instances
// without); a job without a batch scheduler has none.
func TestEnvelopeGang(t *testing.T) {
	withInstances := func(j *v1alpha1.SparkJob) { j.Spec.Executor.Instances = ptr[int32](4) }
	tests := []struct {
		name string
		job  *v1alpha1.SparkJob
		want string
	}{
		{name: "none", job: testJob(), want: ""},
		{name: "dynamic", job: testJob(scheduled(v1alpha1.YuniKornScheduler, "root.spark"), withInstances),
			want: "; gang of 5 pods by yunikorn in queue 'root.spark'"},
		{name: "static", job: testJob(static, scheduled(v1alpha1.VolcanoScheduler, "")), want: "; gang of 3 pods by volcano"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := ComputeEnvelope(tt.job)
			if err != nil {
				t.Fatal(err)
			}
			if got := env.Gang("; "); got != tt.want {
				t.Errorf("Gang = %q, want %q", got, tt.want)
			}
		})
	}
}
