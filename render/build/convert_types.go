package build

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// The Spark Operator's sparkoperator.k8s.io/v1beta2 field set, written out
// from its API documentation so that its objects decode strictly: a field
// the operator does not know is an unknown field here too. Fields added in
// later operator releases (timeZone, shuffleTrackingEnabled, …) are
// included. Where sparkcd's own type has exactly the Operator's fields
// (spec.monitoring), the field decodes into it directly. Pointers mark
// presence, so conversion can tell an unset field
// from a zero one. Status is accepted and ignored: an object exported from
// a cluster carries one.

type sparkApplication struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              sparkApplicationSpec `json:"spec"`
	Status            map[string]any       `json:"status,omitempty"`
}

type scheduledSparkApplication struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              scheduledSparkApplicationSpec `json:"spec"`
	Status            map[string]any                `json:"status,omitempty"`
}

type scheduledSparkApplicationSpec struct {
	Schedule                  string               `json:"schedule"`
	TimeZone                  string               `json:"timeZone,omitempty"`
	Template                  sparkApplicationSpec `json:"template"`
	Suspend                   *bool                `json:"suspend,omitempty"`
	ConcurrencyPolicy         string               `json:"concurrencyPolicy,omitempty"`
	SuccessfulRunHistoryLimit *int32               `json:"successfulRunHistoryLimit,omitempty"`
	FailedRunHistoryLimit     *int32               `json:"failedRunHistoryLimit,omitempty"`
}

type sparkApplicationSpec struct {
	Type                  string                     `json:"type"`
	SparkVersion          string                     `json:"sparkVersion"`
	Mode                  string                     `json:"mode,omitempty"`
	ProxyUser             *string                    `json:"proxyUser,omitempty"`
	Image                 *string                    `json:"image,omitempty"`
	ImagePullPolicy       *string                    `json:"imagePullPolicy,omitempty"`
	ImagePullSecrets      []string                   `json:"imagePullSecrets,omitempty"`
	MainClass             *string                    `json:"mainClass,omitempty"`
	MainApplicationFile   *string                    `json:"mainApplicationFile"`
	Arguments             []string                   `json:"arguments,omitempty"`
	SparkConf             map[string]string          `json:"sparkConf,omitempty"`
	HadoopConf            map[string]string          `json:"hadoopConf,omitempty"`
	SparkConfigMap        *string                    `json:"sparkConfigMap,omitempty"`
	HadoopConfigMap       *string                    `json:"hadoopConfigMap,omitempty"`
	Volumes               []corev1.Volume            `json:"volumes,omitempty"`
	Driver                operatorDriverSpec         `json:"driver"`
	Executor              operatorExecutorSpec       `json:"executor"`
	Deps                  operatorDependencies       `json:"deps,omitempty"`
	RestartPolicy         *operatorRestartPolicy     `json:"restartPolicy,omitempty"`
	NodeSelector          map[string]string          `json:"nodeSelector,omitempty"`
	FailureRetries        *int32                     `json:"failureRetries,omitempty"`
	RetryInterval         *int64                     `json:"retryInterval,omitempty"`
	PythonVersion         *string                    `json:"pythonVersion,omitempty"`
	MemoryOverheadFactor  *string                    `json:"memoryOverheadFactor,omitempty"`
	Monitoring            *v1alpha1.MonitoringSpec   `json:"monitoring,omitempty"`
	BatchScheduler        *string                    `json:"batchScheduler,omitempty"`
	TimeToLiveSeconds     *int64                     `json:"timeToLiveSeconds,omitempty"`
	BatchSchedulerOptions *operatorBatchScheduler    `json:"batchSchedulerOptions,omitempty"`
	SparkUIOptions        *operatorSparkUI           `json:"sparkUIOptions,omitempty"`
	DriverIngressOptions  []operatorDriverIngress    `json:"driverIngressOptions,omitempty"`
	DynamicAllocation     *operatorDynamicAllocation `json:"dynamicAllocation,omitempty"`

	Suspend                   *bool `json:"suspend,omitempty"`
	DriverPodDisruptionBudget *bool `json:"driverPodDisruptionBudget,omitempty"`
}

type operatorRestartPolicy struct {
	Type                             string `json:"type,omitempty"`
	OnSubmissionFailureRetries       *int32 `json:"onSubmissionFailureRetries,omitempty"`
	OnFailureRetries                 *int32 `json:"onFailureRetries,omitempty"`
	OnSubmissionFailureRetryInterval *int64 `json:"onSubmissionFailureRetryInterval,omitempty"`
	OnFailureRetryInterval           *int64 `json:"onFailureRetryInterval,omitempty"`
}

type operatorBatchScheduler struct {
	Queue             *string             `json:"queue,omitempty"`
	PriorityClassName *string             `json:"priorityClassName,omitempty"`
	Resources         corev1.ResourceList `json:"resources,omitempty"`
}

type operatorSparkUI struct {
	ServicePort        *int32                    `json:"servicePort,omitempty"`
	ServicePortName    *string                   `json:"servicePortName,omitempty"`
	ServiceType        *string                   `json:"serviceType,omitempty"`
	ServiceAnnotations map[string]string         `json:"serviceAnnotations,omitempty"`
	ServiceLabels      map[string]string         `json:"serviceLabels,omitempty"`
	IngressURLFormat   string                    `json:"ingressURLFormat,omitempty"`
	IngressAnnotations map[string]string         `json:"ingressAnnotations,omitempty"`
	IngressTLS         []networkingv1.IngressTLS `json:"ingressTLS,omitempty"`
}

type operatorDriverIngress struct {
	ServicePort        *int32                    `json:"servicePort"`
	ServicePortName    *string                   `json:"servicePortName"`
	ServiceType        *string                   `json:"serviceType,omitempty"`
	ServiceAnnotations map[string]string         `json:"serviceAnnotations,omitempty"`
	ServiceLabels      map[string]string         `json:"serviceLabels,omitempty"`
	IngressURLFormat   string                    `json:"ingressURLFormat,omitempty"`
	IngressAnnotations map[string]string         `json:"ingressAnnotations,omitempty"`
	IngressTLS         []networkingv1.IngressTLS `json:"ingressTLS,omitempty"`
}

type operatorDependencies struct {
	Jars            []string `json:"jars,omitempty"`
	Files           []string `json:"files,omitempty"`
	PyFiles         []string `json:"pyFiles,omitempty"`
	Packages        []string `json:"packages,omitempty"`
	ExcludePackages []string `json:"excludePackages,omitempty"`
	Repositories    []string `json:"repositories,omitempty"`
	Archives        []string `json:"archives,omitempty"`
}

type operatorPodSpec struct {
	Template                      *corev1.PodTemplateSpec    `json:"template,omitempty"`
	Cores                         *int32                     `json:"cores,omitempty"`
	CoreLimit                     *string                    `json:"coreLimit,omitempty"`
	Memory                        *string                    `json:"memory,omitempty"`
	MemoryLimit                   *string                    `json:"memoryLimit,omitempty"`
	MemoryOverhead                *string                    `json:"memoryOverhead,omitempty"`
	GPU                           *operatorGPU               `json:"gpu,omitempty"`
	Image                         *string                    `json:"image,omitempty"`
	ConfigMaps                    []operatorNamePath         `json:"configMaps,omitempty"`
	Secrets                       []operatorSecret           `json:"secrets,omitempty"`
	Env                           []corev1.EnvVar            `json:"env,omitempty"`
	EnvVars                       map[string]string          `json:"envVars,omitempty"`
	EnvFrom                       []corev1.EnvFromSource     `json:"envFrom,omitempty"`
	EnvSecretKeyRefs              map[string]operatorNameKey `json:"envSecretKeyRefs,omitempty"`
	Labels                        map[string]string          `json:"labels,omitempty"`
	Annotations                   map[string]string          `json:"annotations,omitempty"`
	VolumeMounts                  []corev1.VolumeMount       `json:"volumeMounts,omitempty"`
	Affinity                      *corev1.Affinity           `json:"affinity,omitempty"`
	Tolerations                   []corev1.Toleration        `json:"tolerations,omitempty"`
	PodSecurityContext            *corev1.PodSecurityContext `json:"podSecurityContext,omitempty"`
	SecurityContext               *corev1.SecurityContext    `json:"securityContext,omitempty"`
	SchedulerName                 *string                    `json:"schedulerName,omitempty"`
	Sidecars                      []corev1.Container         `json:"sidecars,omitempty"`
	InitContainers                []corev1.Container         `json:"initContainers,omitempty"`
	HostNetwork                   *bool                      `json:"hostNetwork,omitempty"`
	NodeSelector                  map[string]string          `json:"nodeSelector,omitempty"`
	DNSConfig                     *corev1.PodDNSConfig       `json:"dnsConfig,omitempty"`
	TerminationGracePeriodSeconds *int64                     `json:"terminationGracePeriodSeconds,omitempty"`
	ServiceAccount                *string                    `json:"serviceAccount,omitempty"`
	HostAliases                   []corev1.HostAlias         `json:"hostAliases,omitempty"`
	ShareProcessNamespace         *bool                      `json:"shareProcessNamespace,omitempty"`
	RuntimeClassName              *string                    `json:"runtimeClassName,omitempty"`
}

type operatorDriverSpec struct {
	operatorPodSpec    `json:",inline"`
	PodName            *string           `json:"podName,omitempty"`
	CoreRequest        *string           `json:"coreRequest,omitempty"`
	JavaOptions        *string           `json:"javaOptions,omitempty"`
	Lifecycle          *corev1.Lifecycle `json:"lifecycle,omitempty"`
	KubernetesMaster   *string           `json:"kubernetesMaster,omitempty"`
	ServiceAnnotations map[string]string `json:"serviceAnnotations,omitempty"`
	ServiceLabels      map[string]string `json:"serviceLabels,omitempty"`
	Ports              []operatorPort    `json:"ports,omitempty"`
	PriorityClassName  *string           `json:"priorityClassName,omitempty"`
}

type operatorExecutorSpec struct {
	operatorPodSpec     `json:",inline"`
	Instances           *int32            `json:"instances,omitempty"`
	CoreRequest         *string           `json:"coreRequest,omitempty"`
	JavaOptions         *string           `json:"javaOptions,omitempty"`
	Lifecycle           *corev1.Lifecycle `json:"lifecycle,omitempty"`
	DeleteOnTermination *bool             `json:"deleteOnTermination,omitempty"`
	Ports               []operatorPort    `json:"ports,omitempty"`
	PriorityClassName   *string           `json:"priorityClassName,omitempty"`
}

type operatorNamePath struct {
	Name string `json:"name"`
	Path string `json:"path"`
}

type operatorSecret struct {
	Name string `json:"name"`
	Path string `json:"path"`
	Type string `json:"secretType"`
}

type operatorNameKey struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

type operatorPort struct {
	Name          string `json:"name"`
	Protocol      string `json:"protocol"`
	ContainerPort int32  `json:"containerPort"`
}

type operatorGPU struct {
	Name     string `json:"name"`
	Quantity int64  `json:"quantity"`
}

type operatorDynamicAllocation struct {
	Enabled                *bool  `json:"enabled,omitempty"`
	InitialExecutors       *int32 `json:"initialExecutors,omitempty"`
	MinExecutors           *int32 `json:"minExecutors,omitempty"`
	MaxExecutors           *int32 `json:"maxExecutors,omitempty"`
	ShuffleTrackingEnabled *bool  `json:"shuffleTrackingEnabled,omitempty"`
	ShuffleTrackingTimeout *int64 `json:"shuffleTrackingTimeout,omitempty"`
}
