package policies

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// podResourceCases: the cpu and memory of one driver or executor pod.
func podResourceCases() []ruleCase {
	driverCores := v1alpha1.PolicyRules{MaxDriverCores: qty("2")}
	driverMemory := v1alpha1.PolicyRules{MaxDriverMemory: qty("8Gi")}
	executorCores := v1alpha1.PolicyRules{MaxExecutorCores: qty("4")}
	executorMemory := v1alpha1.PolicyRules{MaxExecutorMemory: qty("16Gi")}
	return []ruleCase{
		{name: "driver-cores met", rules: driverCores, job: testJob()},
		{name: "driver-cores broken", rules: driverCores,
			job: testJob(driverPod(func(p *v1alpha1.SparkPodSpec) { p.Cores = ptr[int32](4) })),
			want: violated(RuleDriverCores, "spec.driver.cores",
				`driver pod cpu request is 4, policy "p" allows at most 2`)},
		{name: "driver-cores broken by the request", rules: driverCores,
			job: testJob(driverPod(func(p *v1alpha1.SparkPodSpec) { p.CoreRequest = ptr("2500m") })),
			want: violated(RuleDriverCores, "spec.driver.coreRequest",
				`driver pod cpu request is 2500m, policy "p" allows at most 2`)},
		{name: "driver-cores broken through sparkConf", rules: driverCores,
			job: testJob(driverPod(func(p *v1alpha1.SparkPodSpec) { p.Cores = nil }), conf("spark.driver.cores", "3")),
			want: violated(RuleDriverCores, `spec.sparkConf["spark.driver.cores"]`,
				`driver pod cpu request is 3, policy "p" allows at most 2`)},

		{name: "driver-memory met", rules: driverMemory, job: testJob()},
		{name: "driver-memory broken", rules: driverMemory,
			job: testJob(driverPod(func(p *v1alpha1.SparkPodSpec) { p.Memory = ptr("8g") })),
			want: violated(RuleDriverMemory, "spec.driver.memory",
				`driver pod memory is 9011Mi (memory 8192Mi + overhead 819Mi), policy "p" allows at most 8Gi`)},

		{name: "executor-cores met", rules: executorCores, job: testJob()},
		{name: "executor-cores broken", rules: executorCores,
			job: testJob(executorPod(func(p *v1alpha1.SparkPodSpec) { p.Cores = ptr[int32](8) })),
			want: violated(RuleExecutorCores, "spec.executor.cores",
				`executor pod cpu request is 8, policy "p" allows at most 4`)},

		{name: "executor-memory met", rules: executorMemory, job: testJob()},
		{name: "executor-memory broken", rules: executorMemory,
			job: testJob(executorPod(func(p *v1alpha1.SparkPodSpec) { p.Memory = ptr("16g") })),
			want: violated(RuleExecutorMemory, "spec.executor.memory",
				`executor pod memory is 18022Mi (memory 16384Mi + overhead 1638Mi), policy "p" allows at most 16Gi`)},
		{name: "executor-memory broken through sparkConf", rules: executorMemory,
			job: testJob(executorPod(func(p *v1alpha1.SparkPodSpec) { p.Memory = nil }), conf("spark.executor.memory", "20g")),
			want: violated(RuleExecutorMemory, `spec.sparkConf["spark.executor.memory"]`,
				`executor pod memory is 22528Mi (memory 20480Mi + overhead 2048Mi), policy "p" allows at most 16Gi`)},
	}
}

// jobResourceCases: the cpu and memory of the whole job at its peak, and
// an executor that must fit a node.
func jobResourceCases() []ruleCase {
	jobCores := v1alpha1.PolicyRules{MaxJobCores: qty("240")}
	jobMemory := v1alpha1.PolicyRules{MaxJobMemory: qty("1Ti")}
	fits := v1alpha1.PolicyRules{NodeAllocatable: &v1alpha1.NodeAllocatable{CPU: qty("3400m"), Memory: qty("14Gi")}}
	unbounded := da(func(d *v1alpha1.DynamicAllocation) { d.MaxExecutors = nil })
	return []ruleCase{
		{name: "job-cores met", rules: jobCores, job: testJob()},
		{name: "job-cores broken", rules: jobCores,
			job: testJob(da(func(d *v1alpha1.DynamicAllocation) { d.MaxExecutors = ptr[int32](200) })),
			want: violated(RuleJobCores, "spec.dynamicAllocation.maxExecutors",
				`job cpu at peak is 401 (driver 1 + 200 executors x 2), policy "p" allows at most 240`)},
		{name: "job-cores broken by static instances", rules: jobCores,
			job: testJob(static, func(j *v1alpha1.SparkJob) { j.Spec.Executor.Instances = ptr[int32](150) }),
			want: violated(RuleJobCores, "spec.executor.instances",
				`job cpu at peak is 301 (driver 1 + 150 executors x 2), policy "p" allows at most 240`)},
		{name: "job-cores broken when unbounded", rules: jobCores, job: testJob(unbounded),
			want: violated(RuleJobCores, "spec.dynamicAllocation.maxExecutors",
				`maxExecutors unset: the job may grow without bound, policy "p" allows at most 240 cores`)},

		{name: "job-memory met", rules: jobMemory, job: testJob()},
		{name: "job-memory broken", rules: jobMemory,
			job: testJob(da(func(d *v1alpha1.DynamicAllocation) { d.MaxExecutors = ptr[int32](1000) })),
			want: violated(RuleJobMemory, "spec.dynamicAllocation.maxExecutors",
				`job memory at peak is 2433408Mi (driver 1408Mi + 1000 executors x 2432Mi), policy "p" allows at most 1Ti`)},
		{name: "job-memory broken when unbounded", rules: jobMemory, job: testJob(unbounded),
			want: violated(RuleJobMemory, "spec.dynamicAllocation.maxExecutors",
				`maxExecutors unset: the job may grow without bound, policy "p" allows at most 1Ti of memory`)},

		{name: "executor-fits-node met", rules: fits, job: testJob()},
		{name: "executor-fits-node met by a 3400m request on 4 cores", rules: fits,
			job: testJob(executorPod(func(p *v1alpha1.SparkPodSpec) { p.Cores, p.CoreRequest = ptr[int32](4), ptr("3400m") }))},
		{name: "executor-fits-node broken by cpu", rules: fits,
			job: testJob(executorPod(func(p *v1alpha1.SparkPodSpec) { p.Cores = ptr[int32](4) })),
			want: violated(RuleExecutorFitsNode, "spec.executor.cores",
				`executor pod cpu request is 4, policy "p" allows at most 3400m (what a node offers)`)},
		{name: "executor-fits-node broken by memory", rules: fits,
			job: testJob(executorPod(func(p *v1alpha1.SparkPodSpec) { p.Memory = ptr("13g") })),
			want: violated(RuleExecutorFitsNode, "spec.executor.memory",
				`executor pod memory is 14643Mi (memory 13312Mi + overhead 1331Mi), policy "p" allows at most 14Gi (what a node offers)`)},
	}
}

func TestResourceRules(t *testing.T) {
	runRuleCases(t, slices.Concat(
		podResourceCases(),
		jobResourceCases(),
	))
}

func TestUnevaluableJob(t *testing.T) {
	s := mustSet(t, testPolicy("p", &v1alpha1.PolicyRules{
		MaxExecutorMemory: qty("16Gi"), MaxJobMemory: qty("1Ti"), MaxExecutors: ptr[int32](60),
	}))
	_, got := s.Apply(testJob(executorPod(func(p *v1alpha1.SparkPodSpec) { p.Memory = ptr("lots") })))
	if len(got) != 1 || got[0].Rule != RuleExecutorMemory || got[0].Severity != v1alpha1.SeverityError {
		t.Fatalf("want one error finding for executor-memory, got %+v", got)
	}
	want := "unable to evaluate the rule: "
	if diff := cmp.Diff(want, got[0].Message[:len(want)]); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
}
