package policies

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

type ruleCase struct {
	name  string
	rules v1alpha1.PolicyRules
	job   *v1alpha1.SparkJob
	want  []v1alpha1.Finding
}

func runRuleCases(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSet(t, testPolicy("p", &tc.rules))
			_, got := s.Apply(tc.job)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

// requireDynamicAllocationCases: dynamic allocation and shuffle tracking
// required, and initial executors within bounds.
func requireDynamicAllocationCases() []ruleCase {
	requireDA := v1alpha1.PolicyRules{RequireDynamicAllocation: true}
	requireST := v1alpha1.PolicyRules{RequireShuffleTracking: true}
	return []ruleCase{
		{name: "dynamic-allocation-required met", rules: requireDA, job: testJob()},
		{name: "dynamic-allocation-required met through sparkConf", rules: requireDA,
			job: testJob(static, conf("spark.dynamicAllocation.enabled", "true", "spark.dynamicAllocation.maxExecutors", "4"))},
		{name: "dynamic-allocation-required broken by the typed field", rules: requireDA,
			job: testJob(da(func(d *v1alpha1.DynamicAllocation) { d.Enabled = ptr(false) })),
			want: violated(RuleDynamicAllocationRequired, "spec.dynamicAllocation.enabled",
				`dynamic allocation is off, policy "p" requires it`)},
		{name: "dynamic-allocation-required broken through sparkConf", rules: requireDA,
			job: testJob(static, conf("spark.dynamicAllocation.enabled", "false")),
			want: violated(RuleDynamicAllocationRequired, `spec.sparkConf["spark.dynamicAllocation.enabled"]`,
				`dynamic allocation is off, policy "p" requires it`)},
		{name: "dynamic-allocation-required broken by a static job", rules: requireDA, job: testJob(static),
			want: violated(RuleDynamicAllocationRequired, "spec.dynamicAllocation.enabled",
				`dynamic allocation is off, policy "p" requires it`)},

		{name: "shuffle-tracking-required met", rules: requireST, job: testJob()},
		{name: "shuffle-tracking-required met by the shuffle service", rules: requireST,
			job: testJob(da(func(d *v1alpha1.DynamicAllocation) { d.ShuffleTrackingEnabled = ptr(false) }),
				conf("spark.shuffle.service.enabled", "true"))},
		{name: "shuffle-tracking-required does not apply without dynamic allocation", rules: requireST,
			job: testJob(static, conf("spark.dynamicAllocation.shuffleTracking.enabled", "false"))},
		{name: "shuffle-tracking-required broken", rules: requireST,
			job: testJob(da(func(d *v1alpha1.DynamicAllocation) { d.ShuffleTrackingEnabled = ptr(false) })),
			want: violated(RuleShuffleTrackingRequired, "spec.dynamicAllocation.shuffleTrackingEnabled",
				`shuffle tracking is off (and neither the shuffle service nor decommission shuffle migration is on), policy "p" requires it`)},

		{name: "initial-within-bounds met", rules: requireDA, job: testJob()},
		{name: "initial-within-bounds broken by minExecutors", rules: requireDA,
			job: testJob(da(func(d *v1alpha1.DynamicAllocation) { d.MinExecutors = ptr[int32](12) })),
			want: violated(RuleInitialWithinBounds, "spec.dynamicAllocation.minExecutors",
				`minExecutors is 12, above maxExecutors 10: policy "p" requires minExecutors <= initial executors <= maxExecutors`)},
		{name: "initial-within-bounds broken by executor instances", rules: requireDA,
			job: testJob(func(j *v1alpha1.SparkJob) { j.Spec.Executor.Instances = ptr[int32](20) }),
			want: violated(RuleInitialWithinBounds, "spec.executor.instances",
				`initial executors are 20, above maxExecutors 10: policy "p" requires minExecutors <= initial executors <= maxExecutors`)},
	}
}

// maxExecutorsCases: the most executors, initial ones, and the allocation
// ratio.
func maxExecutorsCases() []ruleCase {
	maxExec := v1alpha1.PolicyRules{MaxExecutors: ptr[int32](60)}
	maxInitial := v1alpha1.PolicyRules{MaxInitialExecutors: ptr[int32](10)}
	ratio := v1alpha1.PolicyRules{ExecutorAllocationRatio: &v1alpha1.RatioRange{Min: "0.1", Max: "1"}}
	return []ruleCase{
		{name: "max-executors met", rules: maxExec, job: testJob()},
		{name: "max-executors met by a static job", rules: maxExec, job: testJob(static)},
		{name: "max-executors broken", rules: maxExec,
			job: testJob(da(func(d *v1alpha1.DynamicAllocation) { d.MaxExecutors = ptr[int32](200) })),
			want: violated(RuleMaxExecutors, "spec.dynamicAllocation.maxExecutors",
				`maxExecutors is 200, policy "p" allows at most 60`)},
		{name: "max-executors broken through sparkConf", rules: maxExec,
			job: testJob(da(func(d *v1alpha1.DynamicAllocation) { d.MaxExecutors = nil }),
				conf("spark.dynamicAllocation.maxExecutors", "200")),
			want: violated(RuleMaxExecutors, `spec.sparkConf["spark.dynamicAllocation.maxExecutors"]`,
				`maxExecutors is 200, policy "p" allows at most 60`)},
		{name: "max-executors broken when unbounded", rules: maxExec,
			job: testJob(da(func(d *v1alpha1.DynamicAllocation) { d.MaxExecutors = nil })),
			want: violated(RuleMaxExecutors, "spec.dynamicAllocation.maxExecutors",
				`maxExecutors is unset (unbounded), policy "p" allows at most 60`)},
		{name: "max-executors broken by static instances", rules: maxExec,
			job: testJob(static, func(j *v1alpha1.SparkJob) { j.Spec.Executor.Instances = ptr[int32](80) }),
			want: violated(RuleMaxExecutors, "spec.executor.instances",
				`executor instances are 80, policy "p" allows at most 60 executors`)},

		{name: "max-initial-executors met", rules: maxInitial, job: testJob()},
		{name: "max-initial-executors broken", rules: maxInitial,
			job: testJob(da(func(d *v1alpha1.DynamicAllocation) {
				d.InitialExecutors, d.MaxExecutors = ptr[int32](20), ptr[int32](40)
			})),
			want: violated(RuleMaxInitialExecutors, "spec.dynamicAllocation.initialExecutors",
				`initial executors are 20, policy "p" allows at most 10`)},

		{name: "allocation-ratio met", rules: ratio,
			job: testJob(da(func(d *v1alpha1.DynamicAllocation) { d.ExecutorAllocationRatio = ptr("0.5") }))},
		{name: "allocation-ratio met by Spark's default", rules: ratio, job: testJob()},
		{name: "allocation-ratio broken", rules: ratio,
			job: testJob(da(func(d *v1alpha1.DynamicAllocation) { d.ExecutorAllocationRatio = ptr("0.05") })),
			want: violated(RuleAllocationRatio, "spec.dynamicAllocation.executorAllocationRatio",
				`executorAllocationRatio is 0.05, policy "p" allows 0.1 to 1`)},
	}
}

// idleTimeoutCases: the longest idle, cached-idle and shuffle-tracking
// timeouts.
func idleTimeoutCases() []ruleCase {
	idle := v1alpha1.PolicyRules{MaxExecutorIdleTimeout: dur("10m")}
	cached := v1alpha1.PolicyRules{MaxCachedExecutorIdleTimeout: dur("1h")}
	shuffle := v1alpha1.PolicyRules{MaxShuffleTrackingTimeout: dur("1h")}
	return []ruleCase{
		{name: "executor-idle-timeout met", rules: idle, job: testJob()},
		{name: "executor-idle-timeout does not apply without dynamic allocation", rules: idle,
			job: testJob(static, conf("spark.dynamicAllocation.executorIdleTimeout", "1h"))},
		{name: "executor-idle-timeout broken", rules: idle,
			job: testJob(da(func(d *v1alpha1.DynamicAllocation) { d.ExecutorIdleTimeout = dur("30m") })),
			want: violated(RuleExecutorIdleTimeout, "spec.dynamicAllocation.executorIdleTimeout",
				`executorIdleTimeout is 30m, policy "p" allows at most 10m`)},

		{name: "cached-idle-timeout met", rules: cached, job: testJob()},
		{name: "cached-idle-timeout broken when unset", rules: cached,
			job: testJob(da(func(d *v1alpha1.DynamicAllocation) { d.CachedExecutorIdleTimeout = nil })),
			want: violated(RuleCachedIdleTimeout, "spec.dynamicAllocation.cachedExecutorIdleTimeout",
				`cachedExecutorIdleTimeout is unset (infinite: executors holding cached data are never released), policy "p" allows at most 1h`)},
		{name: "cached-idle-timeout broken through sparkConf", rules: cached,
			job: testJob(da(func(d *v1alpha1.DynamicAllocation) { d.CachedExecutorIdleTimeout = nil }),
				conf("spark.dynamicAllocation.cachedExecutorIdleTimeout", "2h")),
			want: violated(RuleCachedIdleTimeout, `spec.sparkConf["spark.dynamicAllocation.cachedExecutorIdleTimeout"]`,
				`cachedExecutorIdleTimeout is 2h, policy "p" allows at most 1h`)},

		{name: "shuffle-tracking-timeout met", rules: shuffle, job: testJob()},
		{name: "shuffle-tracking-timeout does not apply without shuffle tracking", rules: shuffle,
			job: testJob(da(func(d *v1alpha1.DynamicAllocation) {
				d.ShuffleTrackingEnabled, d.ShuffleTrackingTimeout = ptr(false), nil
			}), conf("spark.shuffle.service.enabled", "true"))},
		{name: "shuffle-tracking-timeout broken when unset", rules: shuffle,
			job: testJob(da(func(d *v1alpha1.DynamicAllocation) { d.ShuffleTrackingTimeout = nil })),
			want: violated(RuleShuffleTrackingTimeout, "spec.dynamicAllocation.shuffleTrackingTimeout",
				`shuffleTrackingTimeout is unset (infinite: executors holding shuffle data are never released), policy "p" allows at most 1h`)},
		{name: "shuffle-tracking-timeout broken", rules: shuffle,
			job: testJob(da(func(d *v1alpha1.DynamicAllocation) { d.ShuffleTrackingTimeout = ptr[int64](7200000) })),
			want: violated(RuleShuffleTrackingTimeout, "spec.dynamicAllocation.shuffleTrackingTimeout",
				`shuffleTrackingTimeout is 2h, policy "p" allows at most 1h`)},
	}
}

func TestAllocationRules(t *testing.T) {
	runRuleCases(t, slices.Concat(
		requireDynamicAllocationCases(),
		maxExecutorsCases(),
		idleTimeoutCases(),
	))
}
