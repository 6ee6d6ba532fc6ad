// Package sparkconf is sparkcd's knowledge of Spark's configuration: how
// Spark parses its byte, time and cpu strings, which spark.properties entries
// a SparkJob stands for, and how Spark sizes the driver and executor pods and
// allocates executors from those entries.
//
// Everything here follows Apache Spark's own code (JavaUtils byte and time
// strings, BasicDriverFeatureStep and BasicExecutorFeatureStep sizing,
// ExecutorAllocationManager defaults) and the Spark Operator's mapping of
// SparkApplication fields to spark-submit flags, so a number sparkcd shows or
// checks is the number Spark will use.
package sparkconf
