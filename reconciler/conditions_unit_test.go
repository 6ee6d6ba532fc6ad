package reconciler

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/policies"
)

// TestSetPolicyConditions checks the kstatus conditions the conditions
// package writes for each verdict, from a status that holds the opposite.
func TestSetPolicyConditions(t *testing.T) {
	long := strings.Repeat("x", maxMessageLength+10)
	tests := []struct {
		name string
		v    policies.Verdict
		want []metav1.Condition
	}{
		{
			name: "in force",
			v:    policies.Verdict{State: policies.InForce, Message: "in force: 100% of the cluster"},
			want: []metav1.Condition{
				{Type: meta.ReadyCondition, Status: metav1.ConditionTrue, Reason: meta.SucceededReason, Message: "in force: 100% of the cluster", ObservedGeneration: 3},
			},
		},
		{
			name: "shadowed",
			v:    policies.Verdict{State: policies.Shadowed, Message: "shadowed by 'a'"},
			want: []metav1.Condition{
				{Type: meta.StalledCondition, Status: metav1.ConditionTrue, Reason: ReasonShadowed, Message: "shadowed by 'a'", ObservedGeneration: 3},
				{Type: meta.ReadyCondition, Status: metav1.ConditionFalse, Reason: ReasonShadowed, Message: "shadowed by 'a'", ObservedGeneration: 3},
			},
		},
		{
			name: "invalid, message bounded",
			v:    policies.Verdict{State: policies.Invalid, Message: long},
			want: []metav1.Condition{
				{Type: meta.StalledCondition, Status: metav1.ConditionTrue, Reason: ReasonInvalidPolicy, Message: long[:maxMessageLength-3] + "…", ObservedGeneration: 3},
				{Type: meta.ReadyCondition, Status: metav1.ConditionFalse, Reason: ReasonInvalidPolicy, Message: long[:maxMessageLength-3] + "…", ObservedGeneration: 3},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &v1alpha1.AllocationPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Generation: 3}}
			p.Status.Conditions = []metav1.Condition{
				{Type: meta.ReconcilingCondition, Status: metav1.ConditionTrue, Reason: meta.ProgressingReason, ObservedGeneration: 2},
				{Type: meta.ReadyCondition, Status: metav1.ConditionUnknown, Reason: meta.ProgressingReason, ObservedGeneration: 2},
			}
			if tt.v.State == policies.InForce {
				p.Status.Conditions = append(p.Status.Conditions, metav1.Condition{Type: meta.StalledCondition, Status: metav1.ConditionTrue, Reason: ReasonShadowed})
			}
			setPolicyConditions(p, tt.v)
			if diff := cmp.Diff(tt.want, p.Status.Conditions, cmpopts.IgnoreFields(metav1.Condition{}, "LastTransitionTime")); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
		})
	}
}
