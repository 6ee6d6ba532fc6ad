// Package cronjobs is sparkcd's cron loop: it decides the schedule ticks of
// SparkJobs with a spec.schedule, and it deletes the driver pods of finished
// runs on a schedule of its own.
//
// Scheduler implements reconciler.Scheduler on robfig/cron/v3 with the
// semantics of a Kubernetes CronJob: five fields or a descriptor, a time
// zone per job, the latest missed tick run late only within
// startingDeadlineSeconds and at most once. The job loop names each run
// after its tick, so replicas, retries and restarts can never start a tick
// twice.
//
// Cleanup deletes finished drivers whose time to live has passed and those
// beyond each job's successfulRunHistoryLimit and failedRunHistoryLimit,
// with background propagation so that the garbage collector removes the
// executors, ConfigMap, Service and Ingress each driver owns. Every removed
// run is recorded in its SparkJob's status.history first. A Cleanup is a
// manager.Runnable that runs passes on a cron schedule, and RunOnce runs a
// single pass for `sparkcd cleanup --once`.
package cronjobs
