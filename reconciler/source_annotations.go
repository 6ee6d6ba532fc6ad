package reconciler

// Annotations the source loop reads and writes.
const (
	// AnnotationReconcileRequestedAt on a JobSource asks for a fetch now;
	// any new value starts one, and status.lastHandledReconcileAt answers
	// it. The webhook receiver sets it, so any replica can receive webhooks
	// while only the leader acts.
	AnnotationReconcileRequestedAt = "sparkcd.io/reconcile-requested-at"
	// AnnotationAllowPrune on a JobSource lets the named revision (or
	// commit hash) prune past maxPrunePercent, or prune every SparkJob.
	AnnotationAllowPrune = "sparkcd.io/allow-prune"
	// AnnotationSource on a SparkJob names the JobSource that applied it,
	// "<namespace>/<name>"; only that source updates or prunes it.
	AnnotationSource = "sparkcd.io/source"
	// AnnotationAppliedHash on a SparkJob is the hash of the content the
	// source last applied, so a commit that leaves the job alone writes
	// nothing.
	AnnotationAppliedHash = "sparkcd.io/applied-hash"
	// AnnotationSourceRejected on a SparkJob says why its latest version
	// in git was not applied (file, field and reason); the job keeps its
	// last admitted spec, and its Ready condition is False with reason
	// SourceRejected until a revision admits it again. The source loop
	// writes it with a merge patch, never with its apply, so the applied
	// fields are kept.
	AnnotationSourceRejected = "sparkcd.io/source-rejected"
)
