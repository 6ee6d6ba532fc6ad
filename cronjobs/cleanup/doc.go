// Package cleanup deletes the driver pods of finished runs on a cron
// schedule of its own.
//
// A pass deletes finished drivers whose time to live has passed and those
// beyond each job's successfulRunHistoryLimit and failedRunHistoryLimit,
// with background propagation so that the garbage collector removes the
// executors, ConfigMap, Service and Ingress each driver owns.
//
// The job loop is the one writer of SparkJob.status.history; the cleanup
// only reads it. A driver is deleted once its run is recorded there (or is
// older than every run of a full history, which the job loop has let go
// of), and never while the run is in status.activeRuns: a finished run the
// job loop has not recorded yet waits for a later pass, so no run ends
// unrecorded and the job loop never takes a deleted driver for a lost run.
// A Cleanup is a manager.Runnable that runs passes on a cron schedule, and
// RunOnce runs a single pass for `sparkcd cleanup --once`.
package cleanup
