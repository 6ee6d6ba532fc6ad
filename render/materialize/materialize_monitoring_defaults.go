package materialize

import (
	"fmt"
	"strings"
)

// The Spark Operator's default monitoring files, written out here from what
// they configure so that a converted SparkApplication exports the same
// series under the same names.

// defaultMetricsProperties sends every instance's metrics to the JMX sink,
// where the exporter reads them, and adds the JVM source (heap, GC) to the
// driver and the executors. Like the Operator's, it starts with an empty line.
const defaultMetricsProperties = "\n" +
	"*.sink.jmx.class=org.apache.spark.metrics.sink.JmxSink\n" +
	"driver.source.jvm.class=org.apache.spark.metrics.source.JvmSource\n" +
	"executor.source.jvm.class=org.apache.spark.metrics.source.JvmSource"

// exporterRule maps one family of Spark MBeans to a Prometheus series. Every
// MBean is named metrics<name=NS.APP.REST> with spark.metrics.namespace =
// "<namespace>.<application>", so $1 and $2 are the namespace and the
// application, and the pattern's own groups follow from $3.
type exporterRule struct {
	rest, attr, name, kind, label string // label: the name of $3 when the rule names it
}

var exporterRules = []exporterRule{
	// Driver gauges of the block manager, the DAG scheduler and the JVM.
	{`driver\.(BlockManager|DAGScheduler|jvm)\.(\S+)`, "Value", "spark_driver_$3_$4", "GAUGE", ""},
	// DStream streaming gauges.
	{`driver\.(\S+)\.StreamingMetrics\.streaming\.(\S+)`, "Value", "spark_streaming_driver_$4", "GAUGE", ""},
	// Structured streaming gauges, labelled with the query's name.
	{`driver\.spark\.streaming\.(\S+)\.(.*)`, "Value", "spark_structured_streaming_driver_$4", "GAUGE", "query_name"},
	// Executor gauges, labelled with the executor's id.
	{`(\S+)\.executor\.(\S+)`, "Value", "spark_executor_$4", "GAUGE", "executor_id"},
	// Driver counters.
	{`driver\.DAGScheduler\.(.*)`, "Count", "spark_driver_DAGScheduler_$3_count", "COUNTER", ""},
	{`driver\.HiveExternalCatalog\.(.*)`, "Count", "spark_driver_HiveExternalCatalog_$3_count", "COUNTER", ""},
	{`driver\.CodeGenerator\.(.*)`, "Count", "spark_driver_CodeGenerator_$3_count", "COUNTER", ""},
	{`driver\.LiveListenerBus\.(.*)`, "Count", "spark_driver_LiveListenerBus_$3_count", "COUNTER", ""},
	{`driver\.LiveListenerBus\.(.*)`, "Value", "spark_driver_LiveListenerBus_$3", "GAUGE", ""},
	// Executor counters, and the executors' JVM, Netty, Hive and codegen series.
	{`(.*)\.executor\.(.*)`, "Count", "spark_executor_$4_count", "COUNTER", "executor_id"},
	{`([0-9]+)\.(jvm|NettyBlockTransfer)\.(.*)`, "Value", "spark_executor_$4_$5", "GAUGE", "executor_id"},
	{`([0-9]+)\.HiveExternalCatalog\.(.*)`, "Count", "spark_executor_HiveExternalCatalog_$4_count", "COUNTER", "executor_id"},
	{`([0-9]+)\.CodeGenerator\.(.*)`, "Count", "spark_executor_CodeGenerator_$4_count", "COUNTER", "executor_id"},
}

// defaultPrometheusConfiguration is the JMX exporter's configuration:
// lower-case series names, snake-case attributes, and exporterRules.
var defaultPrometheusConfiguration = func() string {
	var b strings.Builder
	b.WriteString("\nlowercaseOutputName: true\nattrNameSnakeCase: true\nrules:\n")
	for _, r := range exporterRules {
		fmt.Fprintf(&b, "  - pattern: metrics<name=(\\S+)\\.(\\S+)\\.%s><>%s\n", r.rest, r.attr)
		fmt.Fprintf(&b, "    name: %s\n    type: %s\n    labels:\n", r.name, r.kind)
		b.WriteString("      app_namespace: \"$1\"\n      app_id: \"$2\"\n")
		if r.label != "" {
			fmt.Fprintf(&b, "      %s: \"$3\"\n", r.label)
		}
	}
	return b.String()
}()
