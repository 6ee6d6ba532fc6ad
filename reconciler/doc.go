// Package reconciler runs sparkcd's loops against a cluster.
//
// The source loop (NewSourceReconciler), per JobSource, fetches the git
// repository every interval or when the sparkcd.io/reconcile-requested-at
// annotation changes (the webhook receiver, NewWebhookHandler, sets it), and
// for a new revision builds the path, judges every job (decoding,
// validation, the AllocationPolicies, spec.targetNamespaces) and
// server-side applies the admitted ones with the field manager "sparkcd".
// A rejected job is not applied: its SparkJob keeps its last admitted spec
// and is marked with the sparkcd.io/source-rejected annotation, which the
// job loop reports as Ready=False, SourceRejected. SparkJobs removed from
// git are pruned, guarded by maxPrunePercent and sparkcd.io/allow-prune,
// after their running drivers are orphaned so they finish. A revision
// already applied, with no drift, costs no write.
//
// The job loop (NewJobReconciler): for each SparkJob it decides whether a run is due — a new
// spec (its specHash), a manual request (the sparkcd.io/run-requested-at
// annotation) or a schedule tick — and starts it by creating the driver Pod
// first and then the ConfigMap, headless Service and optional Ingress that
// the driver pod owns; it follows the driver pod's phase into the
// SparkJob's status (kstatus-compatible conditions from fluxcd's meta
// package, the last run, the active runs and a bounded history), records
// events and exports Prometheus metrics.
//
// Runs have deterministic names, so a retried or repeated create is
// AlreadyExists and never a second driver; a run is written into the
// status only once all its objects exist, so a loop killed between the
// driver and its dependents completes the run when it comes back. Nothing
// is written while nothing changes.
//
// NewManager builds the controller-runtime manager (caches limited to the
// watched namespaces and to the pods sparkcd manages, metrics, health,
// leader election); NewJobReconciler adds the job loop to it.
package reconciler
