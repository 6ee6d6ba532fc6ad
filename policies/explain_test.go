package policies

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// TestAppliedDefaults (issue 18, item 7): the defaults each policy filled
// in, named by policy and field, and nothing for a value the job sets or a
// policy before it filled.
func TestAppliedDefaults(t *testing.T) {
	maxOf := func(n int32) *v1alpha1.PolicyDefaults {
		return daDefaults(func(d *v1alpha1.DynamicAllocation) { d.MaxExecutors = ptr(n) })
	}
	noMax := da(func(d *v1alpha1.DynamicAllocation) { d.MaxExecutors = nil })
	tests := []struct {
		name     string
		policies []v1alpha1.AllocationPolicy
		job      *v1alpha1.SparkJob
		want     []AppliedDefault
	}{{
		name:     "the first policy by name fills, the next finds it set",
		policies: []v1alpha1.AllocationPolicy{defaultsPolicy("b", maxOf(30)), defaultsPolicy("a", maxOf(20))},
		job:      testJob(noMax),
		want:     []AppliedDefault{{Policy: "a", Field: "spec.dynamicAllocation.maxExecutors", After: "20"}},
	}, {
		name:     "a value the job sets is not a default",
		policies: []v1alpha1.AllocationPolicy{defaultsPolicy("a", maxOf(20))},
		job:      testJob(da(func(d *v1alpha1.DynamicAllocation) { d.MaxExecutors = ptr[int32](5) })),
	}, {
		name: "sparkConf and node labels are named by key",
		policies: []v1alpha1.AllocationPolicy{defaultsPolicy("p", &v1alpha1.PolicyDefaults{
			SparkConf: map[string]string{"spark.speculation": "true"},
			Executor:  &v1alpha1.PlacementDefaults{NodeSelector: map[string]string{"pool": "spot", "node.kubernetes.io/lifecycle": "spot"}},
		})},
		job: testJob(),
		want: []AppliedDefault{
			{Policy: "p", Field: "spec.executor.nodeSelector[node.kubernetes.io/lifecycle]", After: "spot"},
			{Policy: "p", Field: "spec.executor.nodeSelector.pool", After: "spot"},
			{Policy: "p", Field: "spec.sparkConf[spark.speculation]", After: "true"},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := NewSet(tt.policies)
			if err != nil {
				t.Fatal(err)
			}
			before := tt.job.DeepCopy()
			got := set.AppliedDefaults(tt.job)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("AppliedDefaults (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, tt.job); diff != "" {
				t.Errorf("the job was modified (-before +after):\n%s", diff)
			}
		})
	}
}
