// Package corpus runs sparkcd on a corpus of real Spark Operator manifests
// (operator/, with the source of each file in operator/SOURCES): every
// SparkApplication and ScheduledSparkApplication in it must pass `check` and
// `render` without an error or an unsupported-field finding, its first run
// must be created on a real API server, and seven of them are compared field
// by field with what the Operator and spark-submit would create.
//
// The package holds tests only.
package corpus
