package materialize

import (
	"encoding/json"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	resourcehelper "k8s.io/component-helpers/resource"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/sparkconf"
	"github.com/sparkcd/sparkcd/runid"
)

// The names each batch scheduler reads from a pod or a pod group, as the
// Spark Operator's internal/scheduler integrations write them
// (docs/queueing.md).
const (
	// VolcanoGroupAnnotation names a pod's Volcano PodGroup.
	VolcanoGroupAnnotation = "scheduling.k8s.io/group-name"
	// CoschedulingGroupLabel names a pod's scheduler-plugins PodGroup.
	CoschedulingGroupLabel = "scheduling.x-k8s.io/pod-group"
	// YuniKornTaskGroupNameAnnotation names the task group a pod belongs to.
	YuniKornTaskGroupNameAnnotation = "yunikorn.apache.org/task-group-name"
	// YuniKornTaskGroupsAnnotation, on the driver (the application's first
	// pod), defines the gang: the task groups and their placeholders.
	YuniKornTaskGroupsAnnotation = "yunikorn.apache.org/task-groups"
	// YuniKornQueueLabel is the queue YuniKorn places the application in.
	YuniKornQueueLabel = "queue"
	// YuniKornDriverTaskGroup and YuniKornExecutorTaskGroup are the task
	// group names of YuniKorn's Spark gang-scheduling guide.
	YuniKornDriverTaskGroup   = "spark-driver"
	YuniKornExecutorTaskGroup = "spark-executor"

	volcanoAPIVersion      = "scheduling.volcano.sh/v1beta1"
	coschedulingAPIVersion = "scheduling.x-k8s.io/v1alpha1"
	podGroupKind           = "PodGroup"
)

// yunikornTaskGroup is one entry of the task-groups annotation, in the
// shape yunikorn-k8shim decodes (pkg/cache/amprotocol.go's TaskGroup).
type yunikornTaskGroup struct {
	Name         string              `json:"name"`
	MinMember    int32               `json:"minMember"`
	MinResource  map[string]string   `json:"minResource,omitempty"`
	NodeSelector map[string]string   `json:"nodeSelector,omitempty"`
	Tolerations  []corev1.Toleration `json:"tolerations,omitempty"`
	Affinity     *corev1.Affinity    `json:"affinity,omitempty"`
	Labels       map[string]string   `json:"labels,omitempty"`
}

// runGang is what a batch scheduler is told about a run before it starts:
// the driver and the executors Spark asks for at once.
type runGang struct {
	// InitialExecutors is how many executors the driver asks for first:
	// executor.instances (default 2) without dynamic allocation, the
	// largest of instances, initialExecutors and minExecutors with it.
	InitialExecutors int32
	// Driver and Executor are one pod's requests, as Spark sizes them.
	Driver, Executor corev1.ResourceList
}

// Total is the gang's requests, driver and initial executors together.
func (g runGang) Total() corev1.ResourceList {
	out := g.Driver.DeepCopy()
	for i := int32(0); i < g.InitialExecutors; i++ {
		addResources(out, g.Executor)
	}
	return out
}

func addResources(into, add corev1.ResourceList) {
	for k, v := range add {
		q := into[k]
		q.Add(v)
		into[k] = q
	}
}

// scheduleExecutors marks the executor pod template for the job's batch
// scheduler: Spark copies the template's scheduler name, labels and
// annotations to every executor. The Operator does the same through the
// application's executor spec.
func (m *materializer) scheduleExecutors(tpl *corev1.Pod) {
	bs := m.batchScheduler()
	switch bs {
	case v1alpha1.VolcanoScheduler:
		tpl.Annotations = mergeMaps(tpl.Annotations, map[string]string{VolcanoGroupAnnotation: m.podGroupName()})
	case v1alpha1.YuniKornScheduler:
		tpl.Annotations = mergeMaps(tpl.Annotations, map[string]string{YuniKornTaskGroupNameAnnotation: YuniKornExecutorTaskGroup})
		if q := m.queue(); q != "" {
			tpl.Labels = mergeMaps(tpl.Labels, map[string]string{YuniKornQueueLabel: q})
		}
	case v1alpha1.KubeSchedulerCoscheduling:
		tpl.Labels = mergeMaps(tpl.Labels, map[string]string{CoschedulingGroupLabel: m.podGroupName()})
	default:
		return
	}
	tpl.Spec.SchedulerName = m.schedulerName(m.job.Spec.Executor.SchedulerName)
}

// scheduleDriver marks the driver pod for the job's batch scheduler and
// returns the run's pod group, nil for a scheduler that needs none.
// executor is one executor pod as the driver will create it.
func (m *materializer) scheduleDriver(pod, executor *corev1.Pod) (*unstructured.Unstructured, error) {
	bs := m.batchScheduler()
	if bs == "" || bs == v1alpha1.KueueScheduler {
		return nil, nil
	}
	gang, err := m.gang(pod)
	if err != nil {
		return nil, err
	}
	pod.Spec.SchedulerName = m.schedulerName(m.job.Spec.Driver.SchedulerName)
	switch bs {
	case v1alpha1.VolcanoScheduler:
		pod.Annotations = mergeMaps(pod.Annotations, map[string]string{VolcanoGroupAnnotation: m.podGroupName()})
		return m.volcanoPodGroup(gang), nil
	case v1alpha1.YuniKornScheduler:
		return nil, m.yunikornDriver(pod, executor, gang)
	case v1alpha1.KubeSchedulerCoscheduling:
		pod.Labels = mergeMaps(pod.Labels, map[string]string{CoschedulingGroupLabel: m.podGroupName()})
		return m.coschedulingPodGroup(gang), nil
	}
	return nil, fmt.Errorf("job '%s' has batchScheduler '%s': expected volcano, yunikorn, kube-scheduler or kueue", m.job.Name, bs)
}

func (m *materializer) batchScheduler() v1alpha1.BatchScheduler {
	if m.job.Spec.BatchScheduler == nil {
		return ""
	}
	return *m.job.Spec.BatchScheduler
}

func (m *materializer) queue() string {
	if o := m.job.Spec.BatchSchedulerOptions; o != nil && o.Queue != nil {
		return *o.Queue
	}
	return ""
}

// schedulerName is the scheduler a pod of the run names: the batch
// scheduler's own name, as the Operator's webhook sets it. For
// kube-scheduler, whose profile name a cluster chooses (the Operator's
// --kube-scheduler-names), a role's own schedulerName wins.
func (m *materializer) schedulerName(role *string) string {
	bs := m.batchScheduler()
	if bs == v1alpha1.KubeSchedulerCoscheduling && role != nil && *role != "" {
		return *role
	}
	return string(bs)
}

func (m *materializer) podGroupName() string { return runid.PodGroupName(m.id.Name, m.id.AppID) }

// gang sizes the run from the rendered driver pod (its effective requests,
// sidecars and init containers included) and Spark's executor sizing.
func (m *materializer) gang(driver *corev1.Pod) (runGang, error) {
	a, err := sparkconf.EffectiveAllocation(m.job)
	if err != nil {
		return runGang{}, fmt.Errorf("unable to size the gang of job '%s': %w", m.job.Name, err)
	}
	er, err := sparkconf.ExecutorResources(m.job)
	if err != nil {
		return runGang{}, fmt.Errorf("unable to size the executors of job '%s': %w", m.job.Name, err)
	}
	return runGang{InitialExecutors: a.StartExecutors(),
		Driver:   resourcehelper.PodRequests(driver, resourcehelper.PodResourcesOptions{}),
		Executor: podResources(er, nil).Requests}, nil
}

// volcanoPodGroup is the Operator's cluster-mode PodGroup: minMember 1, so
// the driver is placed first and asks for its executors itself, and
// minResources the driver and its initial executors (or
// batchSchedulerOptions.resources), which Volcano reserves in the queue
// before it admits the group.
func (m *materializer) volcanoPodGroup(g runGang) *unstructured.Unstructured {
	minResources := g.Total()
	spec := map[string]any{"minMember": int64(1)}
	if o := m.job.Spec.BatchSchedulerOptions; o != nil {
		if len(o.Resources) > 0 {
			minResources = o.Resources
		}
		if o.Queue != nil {
			spec["queue"] = *o.Queue
		}
		if o.PriorityClassName != nil {
			spec["priorityClassName"] = *o.PriorityClassName
		}
	}
	spec["minResources"] = resourceMap(minResources)
	return m.podGroup(volcanoAPIVersion, spec)
}

// coschedulingPodGroup is the Operator's scheduler-plugins PodGroup:
// minMember 1 and minResources the driver and its initial executors.
func (m *materializer) coschedulingPodGroup(g runGang) *unstructured.Unstructured {
	return m.podGroup(coschedulingAPIVersion, map[string]any{"minMember": int64(1), "minResources": resourceMap(g.Total())})
}

func (m *materializer) podGroup(apiVersion string, spec map[string]any) *unstructured.Unstructured {
	pg := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": podGroupKind, "spec": spec}}
	pg.SetName(m.podGroupName())
	pg.SetNamespace(m.job.Namespace)
	pg.SetLabels(m.runLabels())
	pg.SetAnnotations(m.runAnnotations())
	return pg
}

func resourceMap(r corev1.ResourceList) map[string]any {
	out := make(map[string]any, len(r))
	for k, v := range r {
		out[string(k)] = v.String()
	}
	return out
}

// yunikornDriver gives the driver the task-groups annotation: a driver
// gang of one and, unless Spark starts with no executor (a task group of
// minMember 0 is invalid), an executor gang of the initial executors. Each
// group's placeholders get one pod's requests and the pods' placement, so
// YuniKorn reserves room where the real pods will go.
func (m *materializer) yunikornDriver(pod, executor *corev1.Pod, g runGang) error {
	groups := []yunikornTaskGroup{taskGroup(YuniKornDriverTaskGroup, 1, g.Driver, pod, m.job.Spec.Driver.Labels)}
	if g.InitialExecutors > 0 {
		groups = append(groups, taskGroup(YuniKornExecutorTaskGroup, g.InitialExecutors, g.Executor, executor, m.job.Spec.Executor.Labels))
	}
	b, err := json.Marshal(groups)
	if err != nil {
		return fmt.Errorf("unable to write the task groups of job '%s': %w", m.job.Name, err)
	}
	pod.Annotations = mergeMaps(pod.Annotations, map[string]string{
		YuniKornTaskGroupNameAnnotation: YuniKornDriverTaskGroup,
		YuniKornTaskGroupsAnnotation:    string(b),
	})
	if q := m.queue(); q != "" {
		pod.Labels = mergeMaps(pod.Labels, map[string]string{YuniKornQueueLabel: q})
	}
	return nil
}

// taskGroup describes one gang. Its labels are the role's own labels, as
// the Operator gives them: the placeholders must not carry spark-role or
// sparkcd's run labels, or they would pass for the run's pods.
func taskGroup(name string, members int32, requests corev1.ResourceList, pod *corev1.Pod, labels map[string]string) yunikornTaskGroup {
	min := make(map[string]string, len(requests))
	for k, v := range requests {
		min[string(k)] = v.String()
	}
	tg := yunikornTaskGroup{Name: name, MinMember: members, MinResource: min,
		Tolerations: pod.Spec.Tolerations, Affinity: pod.Spec.Affinity}
	if len(pod.Spec.NodeSelector) > 0 {
		tg.NodeSelector = maps.Clone(pod.Spec.NodeSelector)
	}
	if len(labels) > 0 {
		tg.Labels = maps.Clone(labels)
	}
	return tg
}
