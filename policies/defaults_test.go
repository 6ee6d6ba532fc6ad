package policies

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// defaultsPolicy is an Audit policy with defaults only.
func defaultsPolicy(name string, d *v1alpha1.PolicyDefaults, namespaces ...string) v1alpha1.AllocationPolicy {
	p := testPolicy(name, nil)
	p.Spec.Action = v1alpha1.Audit
	p.Spec.Namespaces = namespaces
	p.Spec.Defaults = d
	return p
}

func daDefaults(m func(*v1alpha1.DynamicAllocation)) *v1alpha1.PolicyDefaults {
	d := &v1alpha1.DynamicAllocation{}
	m(d)
	return &v1alpha1.PolicyDefaults{DynamicAllocation: d}
}

// defaultsCase is one case of TestDefaults.
type defaultsCase struct {
	name     string
	policies []v1alpha1.AllocationPolicy
	job      *v1alpha1.SparkJob
	want     *v1alpha1.SparkJob
}

// allocationDefaultsCases fill dynamic allocation: which policy wins, and
// that what a job sets or implies stays.
func allocationDefaultsCases() []defaultsCase {
	maxOf := func(n int32) *v1alpha1.PolicyDefaults {
		return daDefaults(func(d *v1alpha1.DynamicAllocation) { d.MaxExecutors = ptr(n) })
	}
	noMax := da(func(d *v1alpha1.DynamicAllocation) { d.MaxExecutors = nil })
	return []defaultsCase{{
		name:     "the first policy by name wins",
		policies: []v1alpha1.AllocationPolicy{defaultsPolicy("b", maxOf(30)), defaultsPolicy("a", maxOf(20))},
		job:      testJob(noMax),
		want:     testJob(da(func(d *v1alpha1.DynamicAllocation) { d.MaxExecutors = ptr[int32](20) })),
	}, {
		name:     "a value the job sets is never overridden",
		policies: []v1alpha1.AllocationPolicy{defaultsPolicy("a", maxOf(20))},
		job:      testJob(da(func(d *v1alpha1.DynamicAllocation) { d.MaxExecutors = ptr[int32](5) })),
		want:     testJob(da(func(d *v1alpha1.DynamicAllocation) { d.MaxExecutors = ptr[int32](5) })),
	}, {
		name:     "a value the job sets through sparkConf is never overridden",
		policies: []v1alpha1.AllocationPolicy{defaultsPolicy("a", maxOf(20))},
		job:      testJob(noMax, conf("spark.dynamicAllocation.maxExecutors", "7")),
		want:     testJob(noMax, conf("spark.dynamicAllocation.maxExecutors", "7")),
	}, {
		name:     "defaults come only from selecting policies",
		policies: []v1alpha1.AllocationPolicy{defaultsPolicy("a", maxOf(20), "spark-dev"), defaultsPolicy("b", maxOf(30), "spark-*")},
		job:      testJob(noMax),
		want:     testJob(da(func(d *v1alpha1.DynamicAllocation) { d.MaxExecutors = ptr[int32](30) })),
	}, {
		name: "a static job gets dynamic allocation when a policy enables it",
		policies: []v1alpha1.AllocationPolicy{defaultsPolicy("a", daDefaults(func(d *v1alpha1.DynamicAllocation) {
			d.Enabled, d.MaxExecutors = ptr(true), ptr[int32](20)
		}))},
		job: testJob(static),
		want: testJob(static, da(func(d *v1alpha1.DynamicAllocation) {
			d.Enabled, d.MaxExecutors = ptr(true), ptr[int32](20)
		})),
	}, {
		name: "a value the job implies is not overridden",
		policies: []v1alpha1.AllocationPolicy{defaultsPolicy("a", daDefaults(func(d *v1alpha1.DynamicAllocation) {
			d.ShuffleTrackingEnabled, d.ExecutorAllocationRatio = ptr(false), ptr("0.5")
		}))},
		job: testJob(da(func(d *v1alpha1.DynamicAllocation) { d.ShuffleTrackingEnabled = nil })),
		want: testJob(da(func(d *v1alpha1.DynamicAllocation) {
			d.ShuffleTrackingEnabled, d.ExecutorAllocationRatio = nil, ptr("0.5")
		})),
	}}
}

// confAndPlacementDefaultsCases fill sparkConf keys and the placement of
// the driver and the executors.
func confAndPlacementDefaultsCases() []defaultsCase {
	spot := corev1.Toleration{Key: lifecycle, Operator: corev1.TolerationOpEqual, Value: "spot", Effect: corev1.TaintEffectNoSchedule}
	return []defaultsCase{{
		name: "sparkConf defaults fill only keys the job does not set",
		policies: []v1alpha1.AllocationPolicy{defaultsPolicy("a", &v1alpha1.PolicyDefaults{SparkConf: map[string]string{
			"spark.executor.memory":                           "8g",    // spec.executor.memory
			"spark.dynamicAllocation.shuffleTracking.enabled": "false", // implied by enabled
			"spark.sql.shuffle.partitions":                    "400",   // sparkConf
			"spark.kubernetes.memoryOverheadFactor":           "0.2",   // always written, not set
			"spark.eventLog.enabled":                          "true",
		}}), defaultsPolicy("b", &v1alpha1.PolicyDefaults{SparkConf: map[string]string{
			"spark.eventLog.enabled": "false",
		}})},
		job: testJob(da(func(d *v1alpha1.DynamicAllocation) { d.ShuffleTrackingEnabled = nil }),
			conf("spark.sql.shuffle.partitions", "200")),
		want: testJob(da(func(d *v1alpha1.DynamicAllocation) { d.ShuffleTrackingEnabled = nil }),
			conf("spark.sql.shuffle.partitions", "200", "spark.kubernetes.memoryOverheadFactor", "0.2",
				"spark.eventLog.enabled", "true")),
	}, {
		name: "placement defaults fill per key, per affinity kind and per toleration",
		policies: []v1alpha1.AllocationPolicy{defaultsPolicy("a", &v1alpha1.PolicyDefaults{
			Driver: &v1alpha1.PlacementDefaults{
				NodeSelector:      map[string]string{lifecycle: "on-demand", zone: "eu-west-3c"},
				PriorityClassName: "spark-driver",
			},
			Executor: &v1alpha1.PlacementDefaults{
				NodeSelector:      map[string]string{lifecycle: "spot"},
				Affinity:          nodeAffinity(map[string][]string{zone: {"eu-west-3c"}}),
				Tolerations:       []corev1.Toleration{spot, {Key: "gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
				PriorityClassName: "spark-executor",
			},
		})},
		job: testJob(func(j *v1alpha1.SparkJob) {
			j.Spec.NodeSelector = map[string]string{"team": "data"}
			j.Spec.Driver.NodeSelector = map[string]string{zone: "eu-west-3a"}
			j.Spec.Executor.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{}}
			j.Spec.Executor.Tolerations = []corev1.Toleration{{Key: "gpu", Operator: corev1.TolerationOpEqual, Value: "yes", Effect: corev1.TaintEffectNoSchedule}}
			j.Spec.Executor.PriorityClassName = ptr("batch")
		}),
		want: testJob(func(j *v1alpha1.SparkJob) {
			j.Spec.NodeSelector = map[string]string{"team": "data"}
			j.Spec.Driver.NodeSelector = map[string]string{zone: "eu-west-3a", lifecycle: "on-demand"}
			j.Spec.Driver.PriorityClassName = ptr("spark-driver")
			j.Spec.Executor.NodeSelector = map[string]string{"team": "data", lifecycle: "spot"}
			j.Spec.Executor.Affinity = nodeAffinity(map[string][]string{zone: {"eu-west-3c"}})
			j.Spec.Executor.Affinity.PodAntiAffinity = &corev1.PodAntiAffinity{}
			j.Spec.Executor.Tolerations = []corev1.Toleration{{Key: "gpu", Operator: corev1.TolerationOpEqual, Value: "yes", Effect: corev1.TaintEffectNoSchedule}, spot}
			j.Spec.Executor.PriorityClassName = ptr("batch")
		}),
	}}
}

func TestDefaults(t *testing.T) {
	for _, tc := range slices.Concat(allocationDefaultsCases(), confAndPlacementDefaultsCases()) {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSet(t, tc.policies...)
			before := tc.job.DeepCopy()
			got, _ := s.Apply(tc.job)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("defaulted job (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, tc.job); diff != "" {
				t.Errorf("Apply modified its input (-before +after):\n%s", diff)
			}
		})
	}
}

// TestDefaultsAreCopies checks that a defaulted job shares nothing with the
// Set: changing one job must not change the next.
func TestDefaultsAreCopies(t *testing.T) {
	s := mustSet(t, defaultsPolicy("a", &v1alpha1.PolicyDefaults{
		DynamicAllocation: &v1alpha1.DynamicAllocation{MaxExecutors: ptr[int32](20)},
		Executor: &v1alpha1.PlacementDefaults{
			Tolerations:       []corev1.Toleration{{Key: lifecycle, Operator: corev1.TolerationOpExists}},
			Affinity:          nodeAffinity(map[string][]string{zone: {"eu-west-3c"}}),
			PriorityClassName: "spark",
		},
	}))
	first, _ := s.Apply(testJob(static))
	*first.Spec.DynamicAllocation.MaxExecutors = 99
	first.Spec.Executor.Tolerations[0].Key = "changed"
	first.Spec.Executor.Affinity.NodeAffinity = nil
	*first.Spec.Executor.PriorityClassName = "changed"
	second, _ := s.Apply(testJob(static))
	want := testJob(static, func(j *v1alpha1.SparkJob) {
		j.Spec.DynamicAllocation = &v1alpha1.DynamicAllocation{MaxExecutors: ptr[int32](20)}
		j.Spec.Executor.Tolerations = []corev1.Toleration{{Key: lifecycle, Operator: corev1.TolerationOpExists}}
		j.Spec.Executor.Affinity = nodeAffinity(map[string][]string{zone: {"eu-west-3c"}})
		j.Spec.Executor.PriorityClassName = ptr("spark")
	})
	if diff := cmp.Diff(want, second); diff != "" {
		t.Errorf("second job (-want +got):\n%s", diff)
	}
}

func TestDefaultsSatisfyRules(t *testing.T) {
	p := testPolicy("p", &v1alpha1.PolicyRules{
		RequireDynamicAllocation:     true,
		MaxExecutors:                 ptr[int32](60),
		MaxCachedExecutorIdleTimeout: dur("1h"),
	})
	p.Spec.Defaults = daDefaults(func(d *v1alpha1.DynamicAllocation) {
		d.Enabled, d.MaxExecutors, d.CachedExecutorIdleTimeout = ptr(true), ptr[int32](20), dur("15m")
	})
	_, got := mustSet(t, p).Apply(testJob(static))
	if len(got) != 0 {
		t.Errorf("a static job defaulted by the policy should meet its rules, got %+v", got)
	}
	// A default can also break a job: minExecutors 4 under the job's max 2.
	p.Spec.Defaults = daDefaults(func(d *v1alpha1.DynamicAllocation) { d.MinExecutors = ptr[int32](4) })
	_, got = mustSet(t, p).Apply(testJob(da(func(d *v1alpha1.DynamicAllocation) {
		d.MinExecutors, d.InitialExecutors, d.MaxExecutors = nil, nil, ptr[int32](2)
	})))
	want := violated(RuleInitialWithinBounds, "spec.dynamicAllocation.minExecutors",
		`minExecutors is 4, above maxExecutors 2: policy "p" requires minExecutors <= initial executors <= maxExecutors`)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}
