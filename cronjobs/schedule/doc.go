// Package schedule decides the schedule ticks of SparkJobs with a
// spec.schedule.
//
// Scheduler implements the job loop's reconciler.Scheduler on
// robfig/cron/v3 with the semantics of a Kubernetes CronJob: five fields or
// a descriptor, a time zone per job, the latest missed tick run late only
// within startingDeadlineSeconds and at most once. The job loop names each
// run after its tick (runid.ScheduledRunName), so replicas, retries and
// restarts can never start a tick twice. The package knows nothing of the
// job loop: the loop depends on it, never the other way.
package schedule
