// Package build turns a jobs directory into SparkJobs, with no cluster.
//
// Build runs kustomize in-process (krusty) on a file system rooted at the
// repository, with remote bases and plugins off, and decodes the SparkJobs it
// yields — and the Spark Operator's SparkApplication and
// ScheduledSparkApplication, converted — strictly, so an unknown field is an
// error that names the file, the job and the field. A Cache keeps the built
// units of a revision so a poll that changed one file rebuilds one unit.
//
// build knows nothing of policies, validation or runs: what a job may be is
// the admission package's, what a run of it creates is materialize's.
package build
