// Package render turns a jobs directory into the Kubernetes objects Spark
// needs, with no cluster.
//
// Build runs kustomize in-process (krusty) on a file system rooted at the
// repository, with remote bases and plugins off, and decodes the SparkJobs it
// yields — and the Spark Operator's SparkApplication and
// ScheduledSparkApplication, converted — strictly, so an unknown field is a
// finding that names the file, the job and the field. Validate checks a job
// on its own, independent of any policy. Materialize turns one job and a run
// identity into the driver Pod, the ConfigMap (spark.properties, the executor
// pod template, log4j2.properties), the headless driver Service and the
// optional UI Ingress, exactly as spark-submit would have created them.
package render
