package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AllocationPolicyKind is the kind of an AllocationPolicy.
const AllocationPolicyKind = "AllocationPolicy"

// PolicyAction says what a broken rule means.
// +kubebuilder:validation:Enum=Enforce;Audit
type PolicyAction string

// The policy actions.
const (
	// Enforce makes a broken rule an error: the job is not admitted.
	Enforce PolicyAction = "Enforce"
	// Audit makes a broken rule a warning.
	Audit PolicyAction = "Audit"
)

// PlacementDefaults are filled into a pod that leaves them unset.
type PlacementDefaults struct {
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// +optional
	PriorityClassName string `json:"priorityClassName,omitempty"`
}

// PolicyDefaults are filled into jobs that leave a setting unset.
type PolicyDefaults struct {
	// +optional
	DynamicAllocation *DynamicAllocation `json:"dynamicAllocation,omitempty"`
	// SparkConf entries are added where the job does not set the key.
	// +optional
	SparkConf map[string]string `json:"sparkConf,omitempty"`
	// +optional
	Driver *PlacementDefaults `json:"driver,omitempty"`
	// +optional
	Executor *PlacementDefaults `json:"executor,omitempty"`
	// BatchScheduler is the batchScheduler of a job that names none, and
	// BatchSchedulerOptions the queue, priorityClassName and resources of
	// one that leaves them unset (docs/queueing.md).
	// +optional
	BatchScheduler *BatchScheduler `json:"batchScheduler,omitempty"`
	// +optional
	BatchSchedulerOptions *BatchSchedulerConfiguration `json:"batchSchedulerOptions,omitempty"`
}

// RatioRange bounds executorAllocationRatio.
type RatioRange struct {
	// +optional
	Min string `json:"min,omitempty"`
	// +optional
	Max string `json:"max,omitempty"`
}

// NodeAllocatable is what one node offers a pod.
type NodeAllocatable struct {
	// +optional
	CPU *resource.Quantity `json:"cpu,omitempty"`
	// +optional
	Memory *resource.Quantity `json:"memory,omitempty"`
}

// PodPlacementRule is what a pod's placement must say.
type PodPlacementRule struct {
	// RequiredNodeLabels must each be required by a nodeSelector entry or a
	// required node-affinity term.
	// +optional
	RequiredNodeLabels map[string]string `json:"requiredNodeLabels,omitempty"`
	// SameZoneAsDriver requires the executors to be pinned to the driver's
	// zone (topology.kubernetes.io/zone) by the same nodeSelector or
	// required affinity as the driver.
	// +optional
	SameZoneAsDriver bool `json:"sameZoneAsDriver,omitempty"`
}

// PlacementRules are the placement rules for driver and executors.
type PlacementRules struct {
	// +optional
	Driver *PodPlacementRule `json:"driver,omitempty"`
	// +optional
	Executor *PodPlacementRule `json:"executor,omitempty"`
}

// PolicyRules are what a job must meet; every rule is optional.
type PolicyRules struct {
	// +optional
	RequireDynamicAllocation bool `json:"requireDynamicAllocation,omitempty"`
	// RequireShuffleTracking is met by shuffle tracking, the external
	// shuffle service, or decommissioning with shuffle-block migration.
	// +optional
	RequireShuffleTracking bool `json:"requireShuffleTracking,omitempty"`
	// +optional
	MaxExecutors *int32 `json:"maxExecutors,omitempty"`
	// +optional
	MaxInitialExecutors *int32 `json:"maxInitialExecutors,omitempty"`
	// +optional
	ExecutorAllocationRatio *RatioRange `json:"executorAllocationRatio,omitempty"`
	// +optional
	MaxExecutorIdleTimeout *metav1.Duration `json:"maxExecutorIdleTimeout,omitempty"`
	// An unset (infinite) cachedExecutorIdleTimeout violates this rule.
	// +optional
	MaxCachedExecutorIdleTimeout *metav1.Duration `json:"maxCachedExecutorIdleTimeout,omitempty"`
	// An unset (infinite) shuffle tracking timeout violates this rule.
	// +optional
	MaxShuffleTrackingTimeout *metav1.Duration `json:"maxShuffleTrackingTimeout,omitempty"`
	// +optional
	MaxDriverCores *resource.Quantity `json:"maxDriverCores,omitempty"`
	// MaxDriverMemory bounds the driver pod's memory, overhead included.
	// +optional
	MaxDriverMemory *resource.Quantity `json:"maxDriverMemory,omitempty"`
	// +optional
	MaxExecutorCores *resource.Quantity `json:"maxExecutorCores,omitempty"`
	// MaxExecutorMemory bounds an executor pod's memory, overhead included.
	// +optional
	MaxExecutorMemory *resource.Quantity `json:"maxExecutorMemory,omitempty"`
	// MaxJobCores bounds driver cores + peak executors × executor cores.
	// +optional
	MaxJobCores *resource.Quantity `json:"maxJobCores,omitempty"`
	// MaxJobMemory bounds the same sum with pod memory.
	// +optional
	MaxJobMemory *resource.Quantity `json:"maxJobMemory,omitempty"`
	// NodeAllocatable: one executor pod's requests must fit a node.
	// +optional
	NodeAllocatable *NodeAllocatable `json:"nodeAllocatable,omitempty"`
	// +optional
	Placement *PlacementRules `json:"placement,omitempty"`
	// Pods forbid what a job's pods may ask of their node, and the images
	// they may run.
	// +optional
	Pods *PodRules `json:"pods,omitempty"`
	// BatchScheduler requires a batch scheduler and a queue of the jobs
	// (rules batch-scheduler and queue, docs/queueing.md).
	// +optional
	BatchScheduler *BatchSchedulerRules `json:"batchScheduler,omitempty"`
	// MaxRunDuration bounds how long one run may take, from its driver's
	// creation (rule max-run-duration). The job loop judges the running
	// run: Audit reports it, Enforce stops the run (docs/run-insight.md).
	// +optional
	MaxRunDuration *metav1.Duration `json:"maxRunDuration,omitempty"`
	// MaxRunCoreHours bounds the cpu one run may reserve, driver and
	// executors, in core-hours (rule max-run-core-hours), judged like
	// maxRunDuration.
	// +optional
	MaxRunCoreHours *resource.Quantity `json:"maxRunCoreHours,omitempty"`
}

// PodRules are what the driver, executor, init and sidecar containers and
// the pod templates of a job must not ask for. Each applies to every pod of
// the job.
type PodRules struct {
	// ForbidHostPath refuses hostPath volumes (rule host-path-forbidden).
	// +optional
	ForbidHostPath bool `json:"forbidHostPath,omitempty"`
	// ForbidHostNetwork refuses hostNetwork (rule host-network-forbidden).
	// +optional
	ForbidHostNetwork bool `json:"forbidHostNetwork,omitempty"`
	// ForbidPrivileged refuses privileged containers (rule
	// privileged-forbidden).
	// +optional
	ForbidPrivileged bool `json:"forbidPrivileged,omitempty"`
	// AllowedImageRegistries, when set, are the only registries (or
	// registry/path prefixes, such as "ghcr.io/acme") images may come from;
	// an image without a registry is from docker.io (rule image-registry).
	// +optional
	AllowedImageRegistries []string `json:"allowedImageRegistries,omitempty"`
}

// PodSecurityStandard is a level of the Kubernetes Pod Security Standards
// and the version of its checks.
type PodSecurityStandard struct {
	// Level is privileged, baseline or restricted.
	// +kubebuilder:validation:Enum=privileged;baseline;restricted
	Level string `json:"level"`
	// Version is "latest" (the default) or "v1.N".
	// +optional
	Version string `json:"version,omitempty"`
}

// AllocationPolicySpec selects jobs and says how they may use the cluster.
type AllocationPolicySpec struct {
	// Namespaces are globs; empty selects every namespace.
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`
	// Action: Enforce (default) or Audit.
	// +optional
	Action PolicyAction `json:"action,omitempty"`
	// +optional
	Defaults *PolicyDefaults `json:"defaults,omitempty"`
	// +optional
	Rules *PolicyRules `json:"rules,omitempty"`
	// PodSecurity is a Pod Security Standards level every pod of the
	// selected jobs must meet, judged at review time as the API server's Pod
	// Security admission would: the stricter of it and the level the
	// target namespace enforces (its pod-security.kubernetes.io/enforce
	// label) wins. See docs/pod-security.md.
	// +optional
	PodSecurity *PodSecurityStandard `json:"podSecurity,omitempty"`
}

// AllocationPolicyStatus is what sparkcd made of a policy in the cluster.
type AllocationPolicyStatus struct {
	// Conditions: Ready is True while the policy is in force; False with
	// Stalled when it is invalid (it then refuses the jobs it selects, see
	// docs/policies.md) or shadowed by a --policies file of the same name.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// ObservedGeneration is the generation the conditions judge.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=ap,categories=sparkcd
// +kubebuilder:printcolumn:name="Action",type=string,JSONPath=`.spec.action`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// AllocationPolicy is the platform team's rules for how Spark jobs use the
// cluster. It is read from files the platform owns (or from the cluster),
// never from a jobs repository.
type AllocationPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec AllocationPolicySpec `json:"spec,omitempty"`
	// Status is written by sparkcd serve; a policy read from a file has
	// none.
	// +optional
	Status AllocationPolicyStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// AllocationPolicyList is a list of AllocationPolicies.
type AllocationPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AllocationPolicy `json:"items"`
}

// GetConditions returns the status conditions.
func (in *AllocationPolicy) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *AllocationPolicy) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }
