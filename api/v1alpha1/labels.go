package v1alpha1

// Labels and annotations on the objects sparkcd creates. The Spark and Spark
// Operator labels are kept so existing selectors and dashboards work.
const (
	// LabelSparkRole is "driver" or "executor", as Spark sets it.
	LabelSparkRole = "spark-role"
	// LabelSparkAppSelector is the run's spark.app.id, as Spark sets it.
	LabelSparkAppSelector = "spark-app-selector"
	// LabelSparkAppName is the job's name, as Spark sets it.
	LabelSparkAppName = "spark-app-name"
	// LabelOperatorAppName is the Spark Operator's application label.
	LabelOperatorAppName = "sparkoperator.k8s.io/app-name"
	// LabelManagedBy is "sparkcd" on every object sparkcd creates.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of LabelManagedBy.
	ManagedByValue = "sparkcd"
	// LabelJob is the SparkJob's name.
	LabelJob = "sparkcd.io/job"
	// LabelRun is the run's name.
	LabelRun = "sparkcd.io/run"
	// LabelSource is "<namespace>.<name>" of the JobSource a SparkJob came from.
	LabelSource = "sparkcd.io/source"
	// LabelShard names the sparkcd instance (`serve --shard`) that handles
	// a JobSource or SparkJob; the jobs a source applies and the objects of
	// a job's runs carry their source's and job's value (docs/scaling.md).
	LabelShard = "sparkcd.io/shard"

	// AnnotationRevision is the source revision of a run's spec.
	AnnotationRevision = "sparkcd.io/revision"
	// AnnotationSpecHash is the spec hash of a run.
	AnnotationSpecHash = "sparkcd.io/spec-hash"
	// AnnotationTrigger is what started a run: commit, schedule or manual.
	AnnotationTrigger = "sparkcd.io/trigger"
	// AnnotationAttempt is a run's attempt number under spec.restartPolicy,
	// on drivers of attempts after the first.
	AnnotationAttempt = "sparkcd.io/attempt"
	// AnnotationRetryOf names the run an attempt follows.
	AnnotationRetryOf = "sparkcd.io/retry-of"
	// AnnotationRunRequestedAt on a SparkJob requests a manual run; any new
	// value starts one.
	AnnotationRunRequestedAt = "sparkcd.io/run-requested-at"
	// AnnotationStopRuns on a SparkJob names, comma-separated, the runs
	// `sparkcd stop` stopped: the job loop records their end as Stopped,
	// not as a failure a restart policy retries.
	AnnotationStopRuns = "sparkcd.io/stop-runs"
	// AnnotationSourceFile records the file a job was read from.
	AnnotationSourceFile = "sparkcd.io/source-file"
	// AnnotationAppliedSpecDigest on a SparkJob that a JobSource manages is
	// the digest (runid.AppliedSpecDigest) of the spec the source loop
	// applied from git; the job loop starts a run only while the SparkJob's
	// own spec has that digest.
	AnnotationAppliedSpecDigest = "sparkcd.io/applied-spec-digest"

	// SchedulingGateDependents holds a new driver pod back from the
	// scheduler, and so from every kubelet, until the ConfigMap, Service
	// and Ingress it needs exist; sparkcd removes it once they do.
	SchedulingGateDependents = "sparkcd.io/dependents"
	// SchedulingGateQueue holds the driver pod of a run queued in Kueue
	// back from the scheduler until Kueue admits the run's Workload
	// (docs/queueing-kueue.md); sparkcd removes it then.
	SchedulingGateQueue = "sparkcd.io/queue"
	// AnnotationQueue on a driver pod names the Kueue LocalQueue its run
	// waits in or was admitted from.
	AnnotationQueue = "sparkcd.io/queue"
	// AnnotationAdmittedAt on a driver pod is when Kueue admitted its run
	// (RFC 3339), written with the removal of SchedulingGateQueue.
	AnnotationAdmittedAt = "sparkcd.io/admitted-at"
	// AnnotationEvicted on a driver pod says why Kueue evicted its run's
	// Workload after the driver was let go (its Workload, queue and
	// Kueue's reason); sparkcd writes it before it deletes the driver, and
	// the run reads as Failed with reason Evicted.
	AnnotationEvicted = "sparkcd.io/evicted"

	// RoleDriver is the spark-role of a driver pod.
	RoleDriver = "driver"
	// RoleExecutor is the spark-role of an executor pod.
	RoleExecutor = "executor"
)
