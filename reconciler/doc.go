// Package reconciler runs sparkcd's loops against a cluster. This part is
// the job loop: for each SparkJob it decides whether a run is due — a new
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
