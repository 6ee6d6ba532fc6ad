package reconciler

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	kueue "sigs.k8s.io/kueue/apis/kueue/v1beta2"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// TestQueueWorkloadPriority: the Workload's priority is resolved as
// Kueue's job integrations resolve it — the named class, a
// WorkloadPriorityClass before a PriorityClass of the same name; else the
// pods' PriorityClass; else the lowest global default; else none — and a
// name of no class is an error naming the field.
func TestQueueWorkloadPriority(t *testing.T) {
	scheme, err := v1alpha1.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	if err := kueue.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	classes := []client.Object{
		&kueue.WorkloadPriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "both"}, Value: 7},
		&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "both"}, Value: 70},
		&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "pods"}, Value: 300},
	}
	defaults := []client.Object{
		&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "default-a"}, Value: 50, GlobalDefault: true},
		&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "default-b"}, Value: 20, GlobalDefault: true},
	}
	withPC := &corev1.Pod{Spec: corev1.PodSpec{PriorityClassName: "pods"}}
	tests := []struct {
		name    string
		objs    []client.Object
		class   string
		pods    []*corev1.Pod
		want    *kueue.PriorityClassRef
		value   int32
		wantErr string
	}{
		{name: "WorkloadPriorityClass first", objs: classes, class: "both", want: kueue.NewWorkloadPriorityClassRef("both"), value: 7},
		{name: "PriorityClass", objs: classes, class: "pods", want: kueue.NewPodPriorityClassRef("pods"), value: 300},
		{name: "no such class", objs: classes, class: "none", wantErr: "spec.batchSchedulerOptions.priorityClassName 'none' names neither"},
		{name: "the pods' class", objs: classes, pods: []*corev1.Pod{{}, withPC}, want: kueue.NewPodPriorityClassRef("pods"), value: 300},
		{name: "the pods' missing class", pods: []*corev1.Pod{withPC}, wantErr: "the pods' priorityClassName 'pods' names no PriorityClass"},
		{name: "the lowest global default", objs: append(defaults, classes...), pods: []*corev1.Pod{{}}, want: kueue.NewPodPriorityClassRef("default-b"), value: 20},
		{name: "no class at all", objs: classes, pods: []*corev1.Pod{{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &JobReconciler{apiReader: fake.NewClientBuilder().WithScheme(scheme).WithObjects(tt.objs...).Build()}
			ref, value, err := r.workloadPriority(context.Background(), tt.class, tt.pods...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (ref == nil) != (tt.want == nil) || (ref != nil && *ref != *tt.want) || value != tt.value {
				t.Errorf("priority = %+v %d, want %+v %d", ref, value, tt.want, tt.value)
			}
		})
	}
}
