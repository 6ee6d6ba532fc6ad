package reconciler

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// TestNewWorkload: the reservation has the driver as rendered and the
// executors at the peak count, sized as Spark sizes them, without
// sparkcd's gates; it is owned by the driver without a controller
// reference, so no Kueue integration claims it.
func TestNewWorkload(t *testing.T) {
	driverRes := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1408Mi")}
	driver := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "pi-1a2b3c4d-driver", Namespace: "spark", UID: types.UID("u1"),
			Labels: map[string]string{v1alpha1.LabelJob: "pi", v1alpha1.LabelRun: "pi-1a2b3c4d"}},
		Spec: corev1.PodSpec{
			SchedulingGates: []corev1.PodSchedulingGate{{Name: v1alpha1.SchedulingGateDependents}, {Name: v1alpha1.SchedulingGateQueue}},
			Containers:      []corev1.Container{{Name: "spark-kubernetes-driver", Resources: corev1.ResourceRequirements{Requests: driverRes, Limits: driverRes}}},
		},
	}
	executor := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "spark-kubernetes-executor"}}}}
	q := &queuePlan{queue: "team", executors: 4, executorCPU: resource.MustParse("2"), executorMemory: *resource.NewQuantity(5734<<20, resource.BinarySI)}

	wl := newWorkload(driver, executor, q)
	if wl.Name != "pi-1a2b3c4d" || wl.Spec.QueueName != "team" || len(wl.Finalizers) != 0 {
		t.Errorf("workload %q queue %q finalizers %v", wl.Name, wl.Spec.QueueName, wl.Finalizers)
	}
	if diff := cmp.Diff([]metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: driver.Name, UID: "u1"}}, wl.OwnerReferences); diff != "" {
		t.Errorf("owner (-want +got):\n%s", diff)
	}
	if len(wl.Spec.PodSets) != 2 {
		t.Fatalf("pod sets: %d, want 2", len(wl.Spec.PodSets))
	}
	d, e := wl.Spec.PodSets[0], wl.Spec.PodSets[1]
	if d.Name != podSetDriver || d.Count != 1 || d.Template.Spec.SchedulingGates != nil || !d.Template.Spec.Containers[0].Resources.Requests.Cpu().Equal(resource.MustParse("1")) {
		t.Errorf("driver pod set: %+v", d)
	}
	wantExec := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("5734Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("5734Mi")},
	}
	if e.Name != podSetExecutor || e.Count != 4 || !cmp.Equal(wantExec, e.Template.Spec.Containers[0].Resources, cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })) {
		t.Errorf("executor pod set: %s x%d %+v", e.Name, e.Count, e.Template.Spec.Containers[0].Resources)
	}
	if executor.Spec.Containers[0].Resources.Requests != nil {
		t.Error("newWorkload changed the rendered executor pod")
	}

	q.executors = 0
	if wl := newWorkload(driver, executor, q); len(wl.Spec.PodSets) != 1 {
		t.Errorf("no executors: %d pod sets, want the driver's only", len(wl.Spec.PodSets))
	}
}
