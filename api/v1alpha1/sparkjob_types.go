package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SparkJobKind is the kind of a SparkJob.
const SparkJobKind = "SparkJob"

// SparkApplicationType is the language of a Spark application.
// +kubebuilder:validation:Enum=Java;Scala;Python;R
type SparkApplicationType string

// The application types Spark supports on Kubernetes.
const (
	JavaApplication   SparkApplicationType = "Java"
	ScalaApplication  SparkApplicationType = "Scala"
	PythonApplication SparkApplicationType = "Python"
	RApplication      SparkApplicationType = "R"
)

// DeployMode is Spark's deploy mode. sparkcd creates the driver pod itself,
// which is Spark's cluster mode; the field exists so SparkApplications that
// say "cluster" decode unchanged.
// +kubebuilder:validation:Enum=cluster
type DeployMode string

// ClusterMode is the only deploy mode sparkcd runs.
const ClusterMode DeployMode = "cluster"

// ConcurrencyPolicy says what a new run does while another run of the same
// job is still active, as Kubernetes CronJob defines it.
// +kubebuilder:validation:Enum=Allow;Forbid;Replace
type ConcurrencyPolicy string

// The concurrency policies.
const (
	// AllowConcurrent starts the new run alongside the active ones.
	AllowConcurrent ConcurrencyPolicy = "Allow"
	// ForbidConcurrent waits for the active run to finish (the default).
	ForbidConcurrent ConcurrencyPolicy = "Forbid"
	// ReplaceConcurrent deletes the active run's driver and starts the new run.
	ReplaceConcurrent ConcurrencyPolicy = "Replace"
)

// LogLevel is the root log level written into the driver's and executors'
// log4j2.properties.
// +kubebuilder:validation:Enum=ALL;TRACE;DEBUG;INFO;WARN;ERROR;FATAL;OFF
type LogLevel string

// SparkJobSpec describes one Spark application and when it runs. Every field
// it shares with the Spark Operator's SparkApplication v1beta2 carries the
// same name and meaning.
type SparkJobSpec struct {
	// Type is the language of the application.
	// +required
	Type SparkApplicationType `json:"type"`
	// SparkVersion is the version of Spark in the image, for example "3.5.3".
	// +optional
	SparkVersion string `json:"sparkVersion,omitempty"`
	// Mode is accepted for compatibility with SparkApplication; only "cluster".
	// +optional
	Mode DeployMode `json:"mode,omitempty"`
	// ProxyUser is the user the driver impersonates (spark-submit --proxy-user).
	// +optional
	ProxyUser *string `json:"proxyUser,omitempty"`
	// Image is the container image of the driver and the executors.
	// +optional
	Image *string `json:"image,omitempty"`
	// ImagePullPolicy is the pull policy of the driver and executor containers.
	// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
	// +optional
	ImagePullPolicy *string `json:"imagePullPolicy,omitempty"`
	// ImagePullSecrets names the secrets used to pull the image.
	// +optional
	ImagePullSecrets []string `json:"imagePullSecrets,omitempty"`
	// MainClass is the fully qualified main class of a Java or Scala job.
	// +optional
	MainClass *string `json:"mainClass,omitempty"`
	// MainApplicationFile is the jar, Python or R file of the application,
	// for example "local:///opt/spark/examples/jars/spark-examples.jar".
	// +optional
	MainApplicationFile *string `json:"mainApplicationFile,omitempty"`
	// Arguments are passed to the application after the main file.
	// +optional
	Arguments []string `json:"arguments,omitempty"`
	// SparkConf entries go into spark.properties unchanged. Keys sparkcd
	// manages (spark.master, spark.driver.host, …) are findings.
	// +optional
	SparkConf map[string]string `json:"sparkConf,omitempty"`
	// HadoopConf entries go into spark.properties as spark.hadoop.<key>.
	// +optional
	HadoopConf map[string]string `json:"hadoopConf,omitempty"`
	// SparkConfigMap names a ConfigMap of extra Spark configuration files,
	// mounted into the driver and executors with SPARK_CONF_DIR kept at
	// sparkcd's own configuration.
	// +optional
	SparkConfigMap *string `json:"sparkConfigMap,omitempty"`
	// HadoopConfigMap names a ConfigMap of Hadoop configuration files
	// (core-site.xml, …), mounted with HADOOP_CONF_DIR pointing at it.
	// +optional
	HadoopConfigMap *string `json:"hadoopConfigMap,omitempty"`
	// Volumes the driver and executors may mount.
	// +optional
	Volumes []corev1.Volume `json:"volumes,omitempty"`
	// Driver describes the driver pod.
	// +optional
	Driver DriverSpec `json:"driver,omitempty"`
	// Executor describes the executor pods.
	// +optional
	Executor ExecutorSpec `json:"executor,omitempty"`
	// Deps lists the application's dependencies.
	// +optional
	Deps Dependencies `json:"deps,omitempty"`
	// NodeSelector applies to the driver and the executors unless they set
	// their own.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// PythonVersion sets spark.kubernetes.pyspark.pythonVersion, the major
	// Python version of the image. "2" is for Spark before 3.1 only: Spark
	// 3.1 and later run Python 3 only and refuse it.
	// +kubebuilder:validation:Enum="2";"3"
	// +optional
	PythonVersion *string `json:"pythonVersion,omitempty"`
	// MemoryOverheadFactor sets spark.kubernetes.memoryOverheadFactor, the
	// share of memory added for non-heap use when memoryOverhead is unset.
	// +optional
	MemoryOverheadFactor *string `json:"memoryOverheadFactor,omitempty"`
	// TimeToLiveSeconds is how long a finished driver of this job is kept
	// before the cleanup deletes it.
	// +kubebuilder:validation:Minimum=0
	// +optional
	TimeToLiveSeconds *int64 `json:"timeToLiveSeconds,omitempty"`
	// SparkUIOptions exposes the driver's UI through the service and an
	// optional Ingress.
	// +optional
	SparkUIOptions *SparkUIConfiguration `json:"sparkUIOptions,omitempty"`
	// DynamicAllocation configures Spark's dynamic executor allocation.
	// +optional
	DynamicAllocation *DynamicAllocation `json:"dynamicAllocation,omitempty"`
	// Suspend stops new runs from starting; running drivers are not touched.
	// +optional
	Suspend *bool `json:"suspend,omitempty"`
	// RestartPolicy says whether a run that ended is followed by a new
	// attempt (Never, OnFailure, Always), as the Spark Operator's does.
	// +optional
	RestartPolicy *RestartPolicy `json:"restartPolicy,omitempty"`
	// Monitoring sets up the Prometheus JMX exporter as the Spark Operator does (docs/monitoring.md).
	Monitoring *MonitoringSpec `json:"monitoring,omitempty"`
	// DriverIngressOptions expose more driver ports, one Service and Ingress each.
	DriverIngressOptions []DriverIngressConfiguration `json:"driverIngressOptions,omitempty"`
	// DriverPodDisruptionBudget, when true, protects a running driver from eviction.
	DriverPodDisruptionBudget *bool `json:"driverPodDisruptionBudget,omitempty"`
	// BatchScheduler places the run's driver and executors as a gang or
	// behind a queue, as the Spark Operator's batchScheduler does
	// (docs/queueing.md). Unset: the default scheduler, pod by pod.
	// +optional
	BatchScheduler *BatchScheduler `json:"batchScheduler,omitempty"`
	// BatchSchedulerOptions sets the queue, priority class and minimum
	// resources the batch scheduler gets.
	// +optional
	BatchSchedulerOptions *BatchSchedulerConfiguration `json:"batchSchedulerOptions,omitempty"`

	// Schedule is a cron schedule (five fields, or a descriptor such as
	// @daily or @every 1h). Without it the job runs once per distinct spec.
	// +optional
	Schedule string `json:"schedule,omitempty"`
	// TimeZone is the IANA time zone of Schedule, for example "Europe/Paris".
	// Defaults to UTC.
	// +optional
	TimeZone string `json:"timeZone,omitempty"`
	// ConcurrencyPolicy says what a new run does while another is active.
	// Defaults to Forbid.
	// +optional
	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrencyPolicy,omitempty"`
	// StartingDeadlineSeconds bounds how late a missed schedule tick may
	// still start.
	// +kubebuilder:validation:Minimum=0
	// +optional
	StartingDeadlineSeconds *int64 `json:"startingDeadlineSeconds,omitempty"`
	// SuccessfulRunHistoryLimit is how many succeeded drivers are kept.
	// Defaults to 3.
	// +kubebuilder:validation:Minimum=0
	// +optional
	SuccessfulRunHistoryLimit *int32 `json:"successfulRunHistoryLimit,omitempty"`
	// FailedRunHistoryLimit is how many failed drivers are kept. Defaults to 3.
	// +kubebuilder:validation:Minimum=0
	// +optional
	FailedRunHistoryLimit *int32 `json:"failedRunHistoryLimit,omitempty"`
	// LogLevel is the root log level of the driver and the executors.
	// +optional
	LogLevel LogLevel `json:"logLevel,omitempty"`
}

// SparkPodSpec is what the driver and the executor pods share.
type SparkPodSpec struct {
	// Template is a pod template the driver or executor pod starts from, as
	// spark.kubernetes.{driver,executor}.podTemplateFile: Spark's settings
	// and the other fields here win, the template supplies everything else.
	// Its Spark container is the one named spark-kubernetes-driver
	// (spark-kubernetes-executor), else the first; other containers run
	// beside it.
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type:=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Template *corev1.PodTemplateSpec `json:"template,omitempty"`
	// Cores sets spark.driver.cores or spark.executor.cores.
	// +kubebuilder:validation:Minimum=1
	// +optional
	Cores *int32 `json:"cores,omitempty"`
	// CoreLimit is the pod's cpu limit (spark.kubernetes.*.limit.cores).
	// +optional
	CoreLimit *string `json:"coreLimit,omitempty"`
	// CoreRequest is the pod's cpu request (spark.kubernetes.*.request.cores),
	// for example "3400m"; it defaults to Cores.
	// +optional
	CoreRequest *string `json:"coreRequest,omitempty"`
	// Memory is the JVM heap in Spark's notation ("512m", "4g").
	// +optional
	Memory *string `json:"memory,omitempty"`
	// MemoryOverhead is the non-heap memory added to the pod ("384m", "1g").
	// +optional
	MemoryOverhead *string `json:"memoryOverhead,omitempty"`
	// MemoryLimit overrides the Spark container's memory limit, which is
	// otherwise memory + overhead ("6g", "6Gi"); it must not be below that
	// request.
	// +optional
	MemoryLimit *string `json:"memoryLimit,omitempty"`
	// GPU adds a GPU resource limit to the Spark container.
	// +optional
	GPU *GPUSpec `json:"gpu,omitempty"`
	// Ports are extra container ports of the Spark container.
	// +optional
	Ports []Port `json:"ports,omitempty"`
	// Image overrides spec.image for this pod.
	// +optional
	Image *string `json:"image,omitempty"`
	// ConfigMaps are mounted at the given paths.
	// +optional
	ConfigMaps []NamePath `json:"configMaps,omitempty"`
	// Secrets are mounted at the given paths.
	// +optional
	Secrets []SecretInfo `json:"secrets,omitempty"`
	// Env is added to the Spark container.
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`
	// EnvFrom is added to the Spark container.
	// +optional
	EnvFrom []corev1.EnvFromSource `json:"envFrom,omitempty"`
	// Labels are added to the pod.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations are added to the pod.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
	// VolumeMounts mount volumes of spec.volumes into the Spark container.
	// +optional
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`
	// Affinity of the pod.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`
	// Tolerations of the pod.
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// PodSecurityContext of the pod.
	// +optional
	PodSecurityContext *corev1.PodSecurityContext `json:"podSecurityContext,omitempty"`
	// SecurityContext of the Spark container.
	// +optional
	SecurityContext *corev1.SecurityContext `json:"securityContext,omitempty"`
	// SchedulerName of the pod.
	// +optional
	SchedulerName *string `json:"schedulerName,omitempty"`
	// Sidecars run beside the Spark container.
	// +optional
	Sidecars []corev1.Container `json:"sidecars,omitempty"`
	// InitContainers run before the Spark container.
	// +optional
	InitContainers []corev1.Container `json:"initContainers,omitempty"`
	// HostNetwork requests host networking for the pod; its DNS policy is
	// then ClusterFirstWithHostNet, so the pod still resolves cluster names.
	// +optional
	HostNetwork *bool `json:"hostNetwork,omitempty"`
	// NodeSelector of the pod; overrides spec.nodeSelector.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// DNSConfig of the pod.
	// +optional
	DNSConfig *corev1.PodDNSConfig `json:"dnsConfig,omitempty"`
	// TerminationGracePeriodSeconds of the pod.
	// +optional
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
	// ServiceAccount the pod runs as. The driver's needs the right to create
	// executor pods, services and configmaps in its namespace.
	// +optional
	ServiceAccount *string `json:"serviceAccount,omitempty"`
	// HostAliases of the pod.
	// +optional
	HostAliases []corev1.HostAlias `json:"hostAliases,omitempty"`
	// ShareProcessNamespace of the pod.
	// +optional
	ShareProcessNamespace *bool `json:"shareProcessNamespace,omitempty"`
	// RuntimeClassName of the pod.
	// +optional
	RuntimeClassName *string `json:"runtimeClassName,omitempty"`
	// PriorityClassName of the pod.
	// +optional
	PriorityClassName *string `json:"priorityClassName,omitempty"`
	// JavaOptions are extra JVM options (spark.*.extraJavaOptions).
	// +optional
	JavaOptions *string `json:"javaOptions,omitempty"`
	// Lifecycle hooks of the Spark container.
	// +optional
	Lifecycle *corev1.Lifecycle `json:"lifecycle,omitempty"`
}

// DriverSpec describes the driver pod.
type DriverSpec struct {
	SparkPodSpec `json:",inline"`
	// PodName is accepted for compatibility with SparkApplication and not
	// used: every run's driver pod is named "<run>-driver", so runs never
	// collide and each keeps its own pod.
	// +optional
	PodName *string `json:"podName,omitempty"`
	// ServiceAnnotations are added to the headless driver service.
	// +optional
	ServiceAnnotations map[string]string `json:"serviceAnnotations,omitempty"`
	// ServiceLabels are added to the headless driver service.
	// +optional
	ServiceLabels map[string]string `json:"serviceLabels,omitempty"`
}

// ExecutorSpec describes the executor pods, through the executor pod
// template Spark reads.
type ExecutorSpec struct {
	SparkPodSpec `json:",inline"`
	// Instances is the number of executors (spark.executor.instances). With
	// dynamic allocation it only raises the initial count.
	// +kubebuilder:validation:Minimum=0
	// +optional
	Instances *int32 `json:"instances,omitempty"`
	// DeleteOnTermination sets spark.kubernetes.executor.deleteOnTermination.
	// +optional
	DeleteOnTermination *bool `json:"deleteOnTermination,omitempty"`
}

// NamePath is a named object mounted at a path.
type NamePath struct {
	// Name of the ConfigMap.
	Name string `json:"name"`
	// Path it is mounted at.
	Path string `json:"path"`
}

// SecretType tells what a mounted secret holds. Any value is accepted, as
// the Spark Operator's CRD accepts any: GCPServiceAccount and
// HadoopDelegationToken set their environment variable, every other value
// (Generic, or a Kubernetes secret type such as Opaque) is treated as
// Generic: the secret is mounted and nothing else.
type SecretType string

// The secret types the Spark Operator gives a meaning.
const (
	SecretTypeGCPServiceAccount     SecretType = "GCPServiceAccount"
	SecretTypeHadoopDelegationToken SecretType = "HadoopDelegationToken"
	SecretTypeGeneric               SecretType = "Generic"
)

// SecretInfo is a secret mounted at a path.
type SecretInfo struct {
	// Name of the Secret.
	Name string `json:"name"`
	// Path it is mounted at.
	Path string `json:"path"`
	// Type sets the matching environment variable
	// (GOOGLE_APPLICATION_CREDENTIALS, HADOOP_TOKEN_FILE_LOCATION) for
	// GCPServiceAccount and HadoopDelegationToken; any other value is
	// Generic.
	// +optional
	Type SecretType `json:"secretType,omitempty"`
}

// Dependencies are the application's jars, files and packages.
type Dependencies struct {
	// Jars go into spark.jars.
	// +optional
	Jars []string `json:"jars,omitempty"`
	// Files go into spark.files.
	// +optional
	Files []string `json:"files,omitempty"`
	// PyFiles go into spark.submit.pyFiles.
	// +optional
	PyFiles []string `json:"pyFiles,omitempty"`
	// Packages (Maven coordinates) go into spark.jars.packages.
	// +optional
	Packages []string `json:"packages,omitempty"`
	// ExcludePackages go into spark.jars.excludes.
	// +optional
	ExcludePackages []string `json:"excludePackages,omitempty"`
	// Repositories go into spark.jars.repositories.
	// +optional
	Repositories []string `json:"repositories,omitempty"`
	// Archives go into spark.archives.
	// +optional
	Archives []string `json:"archives,omitempty"`
}

// DynamicAllocation configures Spark's dynamic executor allocation. Unset
// fields take Spark's defaults (or an AllocationPolicy's defaults).
type DynamicAllocation struct {
	// Enabled sets spark.dynamicAllocation.enabled.
	// +optional
	Enabled *bool `json:"enabled,omitempty"`
	// InitialExecutors sets spark.dynamicAllocation.initialExecutors.
	// +kubebuilder:validation:Minimum=0
	// +optional
	InitialExecutors *int32 `json:"initialExecutors,omitempty"`
	// MinExecutors sets spark.dynamicAllocation.minExecutors.
	// +kubebuilder:validation:Minimum=0
	// +optional
	MinExecutors *int32 `json:"minExecutors,omitempty"`
	// MaxExecutors sets spark.dynamicAllocation.maxExecutors.
	// +kubebuilder:validation:Minimum=0
	// +optional
	MaxExecutors *int32 `json:"maxExecutors,omitempty"`
	// ShuffleTrackingEnabled sets spark.dynamicAllocation.shuffleTracking.enabled.
	// +optional
	ShuffleTrackingEnabled *bool `json:"shuffleTrackingEnabled,omitempty"`
	// ShuffleTrackingTimeout, in milliseconds, sets
	// spark.dynamicAllocation.shuffleTracking.timeout: how long an executor
	// holding shuffle data is kept.
	// +kubebuilder:validation:Minimum=0
	// +optional
	ShuffleTrackingTimeout *int64 `json:"shuffleTrackingTimeout,omitempty"`
	// ExecutorAllocationRatio, in (0, 1], sets
	// spark.dynamicAllocation.executorAllocationRatio, for example "0.5".
	// +optional
	ExecutorAllocationRatio *string `json:"executorAllocationRatio,omitempty"`
	// ExecutorIdleTimeout sets spark.dynamicAllocation.executorIdleTimeout.
	// +optional
	ExecutorIdleTimeout *metav1.Duration `json:"executorIdleTimeout,omitempty"`
	// CachedExecutorIdleTimeout sets
	// spark.dynamicAllocation.cachedExecutorIdleTimeout; unset, executors
	// holding cached blocks are never released.
	// +optional
	CachedExecutorIdleTimeout *metav1.Duration `json:"cachedExecutorIdleTimeout,omitempty"`
	// SchedulerBacklogTimeout sets spark.dynamicAllocation.schedulerBacklogTimeout.
	// +optional
	SchedulerBacklogTimeout *metav1.Duration `json:"schedulerBacklogTimeout,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=sj;sparkjobs,categories=sparkcd
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Last run",type=string,JSONPath=`.status.lastRun.name`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.lastRun.phase`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// SparkJob is a Spark application and the schedule it runs on.
type SparkJob struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   SparkJobSpec   `json:"spec,omitempty"`
	Status SparkJobStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// SparkJobList is a list of SparkJobs.
type SparkJobList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SparkJob `json:"items"`
}

// GetConditions returns the status conditions, for kstatus helpers.
func (in *SparkJob) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *SparkJob) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }
