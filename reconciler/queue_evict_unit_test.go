package reconciler

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	kueue "sigs.k8s.io/kueue/apis/kueue/v1beta2"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// TestQueueEvictionMessage names the Workload, its queues and Kueue's
// reason and message.
func TestQueueEvictionMessage(t *testing.T) {
	wl := &kueue.Workload{ObjectMeta: metav1.ObjectMeta{Name: "pi-1a2b3c4d"}}
	wl.Status.Admission = &kueue.Admission{ClusterQueue: "spark"}
	c := &metav1.Condition{Type: kueue.WorkloadEvicted, Status: metav1.ConditionTrue, Reason: "Preempted", Message: "Preempted to accommodate a workload"}
	got := evictionMessage(wl, "team", c)
	want := "Kueue evicted Workload 'pi-1a2b3c4d' of LocalQueue 'team' (ClusterQueue 'spark'): Preempted: Preempted to accommodate a workload; the driver pod was deleted"
	if got != want {
		t.Errorf("message\n got %q\nwant %q", got, want)
	}
}

// TestQueueEvictedBeforeRelease: a Workload Kueue admitted and then
// evicted before its driver was let go does not let the driver go: the
// Workload is deleted, to be made again, and the driver keeps its gate.
func TestQueueEvictedBeforeRelease(t *testing.T) {
	scheme, err := v1alpha1.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	if err := kueue.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	driver := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "pi-1a2b3c4d-driver", Namespace: "spark", UID: "u1",
			Labels:      map[string]string{v1alpha1.LabelJob: "pi", v1alpha1.LabelRun: "pi-1a2b3c4d"},
			Annotations: map[string]string{v1alpha1.AnnotationQueue: "team"}},
		Spec: corev1.PodSpec{SchedulingGates: []corev1.PodSchedulingGate{{Name: v1alpha1.SchedulingGateQueue}}},
	}
	wl := &kueue.Workload{ObjectMeta: metav1.ObjectMeta{Name: "pi-1a2b3c4d", Namespace: "spark", UID: "w1",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: driver.Name, UID: driver.UID}}}}
	wl.Status.Conditions = []metav1.Condition{
		{Type: kueue.WorkloadAdmitted, Status: metav1.ConditionTrue, Reason: "Admitted"},
		{Type: kueue.WorkloadEvicted, Status: metav1.ConditionTrue, Reason: "Preempted"},
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(driver, wl).Build()
	r := &JobReconciler{client: c, kueue: true}
	job := &v1alpha1.SparkJob{ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "spark"}}
	rc := newReconciliation(job, time.Now())
	rc.admitted = job
	if err := r.queueStep(context.Background(), rc, driver.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(wl), &kueue.Workload{}); !apierrors.IsNotFound(err) {
		t.Errorf("the evicted Workload is still there (%v)", err)
	}
	got := &corev1.Pod{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(driver), got); err != nil {
		t.Fatal(err)
	}
	if len(got.Spec.SchedulingGates) != 1 || got.Annotations[v1alpha1.AnnotationAdmittedAt] != "" {
		t.Errorf("the driver of an evicted Workload was let go: gates %v annotations %v", got.Spec.SchedulingGates, got.Annotations)
	}
}
