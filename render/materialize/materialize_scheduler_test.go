package materialize

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

func scheduledJob(bs v1alpha1.BatchScheduler, mutate func(*v1alpha1.SparkJob)) *v1alpha1.SparkJob {
	j := templateTestJob()
	j.Spec.BatchScheduler = &bs
	if mutate != nil {
		mutate(j)
	}
	return j
}

func taskGroups(t *testing.T, pod *corev1.Pod) []yunikornTaskGroup {
	t.Helper()
	var groups []yunikornTaskGroup
	if err := json.Unmarshal([]byte(pod.Annotations[YuniKornTaskGroupsAnnotation]), &groups); err != nil {
		t.Fatalf("task groups: %v", err)
	}
	return groups
}

// TestYuniKornTaskGroups: the executor gang is sized by the executors Spark
// starts with and left out when that is none, as the Operator does; the
// placeholders get the pods' placement and the role's own labels only.
func TestYuniKornTaskGroups(t *testing.T) {
	zero := func(j *v1alpha1.SparkJob) {
		on, none := true, int32(0)
		j.Spec.DynamicAllocation = &v1alpha1.DynamicAllocation{Enabled: &on, InitialExecutors: &none, MinExecutors: &none, ShuffleTrackingEnabled: &on}
	}
	objs, _ := materializeTest(t, scheduledJob(v1alpha1.YuniKornScheduler, zero))
	if g := taskGroups(t, objs.Pod); len(g) != 1 || g[0].Name != YuniKornDriverTaskGroup || g[0].MinMember != 1 {
		t.Errorf("task groups with no initial executor = %+v, want the driver's only", g)
	}

	placed := func(j *v1alpha1.SparkJob) {
		three := int32(3)
		j.Spec.Executor.Instances = &three
		j.Spec.NodeSelector = map[string]string{"pool": "spark"}
		j.Spec.Executor.Labels = map[string]string{"team": "a"}
		j.Spec.Executor.Tolerations = []corev1.Toleration{{Key: "spot", Operator: corev1.TolerationOpExists}}
	}
	objs, template := materializeTest(t, scheduledJob(v1alpha1.YuniKornScheduler, placed))
	want := yunikornTaskGroup{Name: YuniKornExecutorTaskGroup, MinMember: 3,
		MinResource:  map[string]string{"cpu": "1", "memory": "1408Mi"},
		NodeSelector: map[string]string{"pool": "spark"}, Labels: map[string]string{"team": "a"},
		Tolerations: []corev1.Toleration{{Key: "spot", Operator: corev1.TolerationOpExists}}}
	g := taskGroups(t, objs.Pod)
	if len(g) != 2 {
		t.Fatalf("%d task groups, want 2", len(g))
	}
	if diff := cmp.Diff(want, g[1]); diff != "" {
		t.Errorf("executor task group (-want +got):\n%s", diff)
	}
	if template.Spec.SchedulerName != "yunikorn" || template.Annotations[YuniKornTaskGroupNameAnnotation] != YuniKornExecutorTaskGroup {
		t.Errorf("executor template scheduler %q, annotations %v", template.Spec.SchedulerName, template.Annotations)
	}
	if _, ok := objs.Pod.Labels[YuniKornQueueLabel]; ok || objs.PodGroup != nil {
		t.Errorf("no queue set, yet queue label %v or a PodGroup %v", objs.Pod.Labels, objs.PodGroup)
	}
}

// TestVolcanoPodGroupOptions: queue, priority class and resources reach the
// PodGroup; resources replace the computed minimum.
func TestVolcanoPodGroupOptions(t *testing.T) {
	q, pc := "etl", "batch-high"
	objs, _ := materializeTest(t, scheduledJob(v1alpha1.VolcanoScheduler, func(j *v1alpha1.SparkJob) {
		j.Spec.BatchSchedulerOptions = &v1alpha1.BatchSchedulerConfiguration{Queue: &q, PriorityClassName: &pc,
			Resources: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), "nvidia.com/gpu": resource.MustParse("2")}}
	}))
	want := map[string]any{"minMember": int64(1), "queue": "etl", "priorityClassName": "batch-high",
		"minResources": map[string]any{"cpu": "8", "nvidia.com/gpu": "2"}}
	if diff := cmp.Diff(want, objs.PodGroup.Object["spec"]); diff != "" {
		t.Errorf("PodGroup spec (-want +got):\n%s", diff)
	}
	if objs.PodGroup.GetNamespace() != "spark" || objs.PodGroup.GetOwnerReferences() != nil {
		t.Errorf("PodGroup namespace %q, owners %v before the driver exists", objs.PodGroup.GetNamespace(), objs.PodGroup.GetOwnerReferences())
	}
}

// TestCoschedulingSchedulerName: a role's own schedulerName names the
// coscheduling profile; Volcano's name wins over it.
func TestCoschedulingSchedulerName(t *testing.T) {
	named := func(j *v1alpha1.SparkJob) {
		s := "scheduler-plugins-scheduler"
		j.Spec.Driver.SchedulerName, j.Spec.Executor.SchedulerName = &s, &s
	}
	objs, template := materializeTest(t, scheduledJob(v1alpha1.KubeSchedulerCoscheduling, named))
	if objs.Pod.Spec.SchedulerName != "scheduler-plugins-scheduler" || template.Spec.SchedulerName != "scheduler-plugins-scheduler" {
		t.Errorf("coscheduling scheduler names %q, %q", objs.Pod.Spec.SchedulerName, template.Spec.SchedulerName)
	}
	objs, template = materializeTest(t, scheduledJob(v1alpha1.VolcanoScheduler, named))
	if objs.Pod.Spec.SchedulerName != "volcano" || template.Spec.SchedulerName != "volcano" {
		t.Errorf("volcano scheduler names %q, %q", objs.Pod.Spec.SchedulerName, template.Spec.SchedulerName)
	}
}

// TestNoBatchScheduler: without a batch scheduler, and with kueue (whose
// queue, read by the job loop, reaches only its reservation Workload), the
// pods are left to the default scheduler: no PodGroup, no scheduler name,
// and none of the labels or annotations a scheduler reads — Kueue's
// plain-pod integration included, so that Kueue never claims a Spark pod.
func TestNoBatchScheduler(t *testing.T) {
	queued := func(j *v1alpha1.SparkJob) {
		q, pc := "team", "batch-high"
		j.Spec.BatchSchedulerOptions = &v1alpha1.BatchSchedulerConfiguration{Queue: &q, PriorityClassName: &pc}
	}
	tests := []struct {
		name string
		job  *v1alpha1.SparkJob
	}{
		{"none", templateTestJob()},
		{"kueue", scheduledJob(v1alpha1.KueueScheduler, nil)},
		{"kueue with a queue", scheduledJob(v1alpha1.KueueScheduler, queued)},
	}
	schedulerKeys := []string{VolcanoGroupAnnotation, CoschedulingGroupLabel, YuniKornTaskGroupNameAnnotation, YuniKornTaskGroupsAnnotation,
		YuniKornQueueLabel, "kueue.x-k8s.io/queue-name", "kueue.x-k8s.io/pod-group-name", "kueue.x-k8s.io/pod-group-total-count", "kueue.x-k8s.io/managed"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, template := materializeTest(t, tt.job)
			if objs.PodGroup != nil || objs.Pod.Spec.SchedulerName != "" || template.Spec.SchedulerName != "" {
				t.Errorf("PodGroup %v, scheduler names %q, %q", objs.PodGroup, objs.Pod.Spec.SchedulerName, template.Spec.SchedulerName)
			}
			for role, pod := range map[string]*corev1.Pod{"driver": objs.Pod, "executor template": template} {
				for _, k := range schedulerKeys {
					if v, ok := pod.Labels[k]; ok {
						t.Errorf("%s has label %s=%q", role, k, v)
					}
					if v, ok := pod.Annotations[k]; ok {
						t.Errorf("%s has annotation %s=%q", role, k, v)
					}
				}
				if len(pod.Spec.SchedulingGates) > 0 {
					t.Errorf("%s is rendered with scheduling gates %v: the job loop adds them", role, pod.Spec.SchedulingGates)
				}
			}
		})
	}
}
