package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
)

// BatchScheduler names the batch scheduler that places a run's driver and
// executors, with the Spark Operator's names for the three it integrates
// (its internal/scheduler registry) and Kueue.
// +kubebuilder:validation:Enum=volcano;yunikorn;kube-scheduler;kueue
type BatchScheduler string

// The batch schedulers sparkcd knows (docs/queueing.md).
const (
	// VolcanoScheduler gangs a run with a Volcano PodGroup
	// (scheduling.volcano.sh/v1beta1) and schedulerName volcano.
	VolcanoScheduler BatchScheduler = "volcano"
	// YuniKornScheduler gangs a run with YuniKorn task groups and
	// schedulerName yunikorn.
	YuniKornScheduler BatchScheduler = "yunikorn"
	// KubeSchedulerCoscheduling gangs a run with a scheduler-plugins
	// PodGroup (scheduling.x-k8s.io/v1alpha1), scheduled by a
	// kube-scheduler that runs the coscheduling plugin.
	KubeSchedulerCoscheduling BatchScheduler = "kube-scheduler"
	// KueueScheduler queues a run in a Kueue LocalQueue.
	KueueScheduler BatchScheduler = "kueue"
)

// BatchSchedulerConfiguration tunes how the batch scheduler places a run,
// with the fields and meaning of the Spark Operator's
// batchSchedulerOptions.
type BatchSchedulerConfiguration struct {
	// Queue is the scheduler's queue the run belongs to: a Volcano Queue,
	// a YuniKorn queue (root.…) or a Kueue LocalQueue.
	// +kubebuilder:validation:MinLength=1
	// +optional
	Queue *string `json:"queue,omitempty"`
	// PriorityClassName is the PriorityClass of the run's pod group
	// (Volcano).
	// +kubebuilder:validation:MinLength=1
	// +optional
	PriorityClassName *string `json:"priorityClassName,omitempty"`
	// Resources, when set, replaces the resources the pod group asks for
	// as its minimum (Volcano's minResources), as the Operator does.
	// +optional
	Resources corev1.ResourceList `json:"resources,omitempty"`
}

// BatchSchedulerRules are an AllocationPolicy's rules on how a job is
// queued and gang-scheduled.
type BatchSchedulerRules struct {
	// Allowed lists the batch schedulers a job may name; a job naming none
	// of them, or none at all, breaks rule batch-scheduler.
	// +optional
	Allowed []BatchScheduler `json:"allowed,omitempty"`
	// RequireQueue: a job must set batchSchedulerOptions.queue (rule
	// queue).
	// +optional
	RequireQueue bool `json:"requireQueue,omitempty"`
	// AllowedQueues lists the queues a job may name (rule queue).
	// +optional
	AllowedQueues []string `json:"allowedQueues,omitempty"`
}
