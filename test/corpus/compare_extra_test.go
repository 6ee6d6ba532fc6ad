package corpus

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Where the monitoring expectations come from (Operator v2.5.2).
const (
	opMonitoring = "Operator internal/controller/sparkapplication/monitoring_config.go configPrometheusMonitoring"
	opPromPod    = "Operator internal/webhook/sparkpod_defaulter.go addPrometheusConfig"
	opPromConsts = "Operator pkg/common/prometheus.go"
	// promConfDir is common.PrometheusConfigMapMountPath.
	promConfDir = "/etc/metrics/conf"
)

// monitoringComparison is the sixth compared file: spec.monitoring with the
// Prometheus JMX exporter, as the Operator's examples had it up to v1beta2-1.6.
func monitoringComparison() comparison {
	agent := "-javaagent:/prometheus/jmx_prometheus_javaagent-0.11.0.jar=8090:" + promConfDir + "/prometheus.yaml"
	return comparison{
		file: "kubeflow-spark-operator_v1beta2-1.6.2_examples_spark-pi-prometheus.yaml",
		fields: []field{
			{"driver pod: cpu limit", driverResource("limits", "cpu"), "1200m", opSubmit + " driverConfOption (coreLimit → spark.kubernetes.driver.limit.cores)"},
			{"spark.driver.extraJavaOptions", prop("spark.driver.extraJavaOptions"), agent,
				opMonitoring + ": -javaagent:<jar>=<port>:" + promConfDir + "/prometheus.yaml, then driverConfOption"},
			{"spark.executor.extraJavaOptions", prop("spark.executor.extraJavaOptions"), agent, opMonitoring + ", then executorConfOption"},
			{"spark.metrics.namespace", prop("spark.metrics.namespace"), "default.spark-pi", opMonitoring + " (<namespace>.<name>)"},
			{"spark.metrics.conf", prop("spark.metrics.conf"), promConfDir + "/metrics.properties", opMonitoring},
			{"driver pod: annotation prometheus.io/scrape", podAnnotation("prometheus.io/scrape"), "true", opMonitoring},
			{"driver pod: annotation prometheus.io/port", podAnnotation("prometheus.io/port"), "8090", opMonitoring},
			{"driver pod: annotation prometheus.io/path", podAnnotation("prometheus.io/path"), "/metrics", opMonitoring},
			{"executor: annotation prometheus.io/scrape", executorAnnotation("prometheus.io/scrape"), "true", opMonitoring},
			{"executor: annotation prometheus.io/port", executorAnnotation("prometheus.io/port"), "8090", opMonitoring},
			{"executor: annotation prometheus.io/path", executorAnnotation("prometheus.io/path"), "/metrics", opMonitoring},
			{"driver pod: port jmx-exporter", func(r *run) string { return hasPort(r.driver, "jmx-exporter:8090/TCP") }, "jmx-exporter:8090/TCP",
				opPromPod + " (" + opPromConsts + " DefaultPrometheusPortName, DefaultPrometheusPortProtocol)"},
			{"executor: port jmx-exporter", func(r *run) string { return hasPort(firstContainer(r), "jmx-exporter:8090/TCP") }, "jmx-exporter:8090/TCP", opPromPod},
			{"driver pod: " + promConfDir + "/metrics.properties", func(r *run) string { return metricsProperties(r, r.pod) }, defaultMetricsProperties,
				opMonitoring + " buildPrometheusConfigMap, mounted by " + opPromPod + "; content " + opPromConsts + " DefaultMetricsProperties"},
			{"executor: " + promConfDir + "/metrics.properties", func(r *run) string { return metricsProperties(r, r.template) }, defaultMetricsProperties, opPromPod},
			{"driver pod: " + promConfDir + "/prometheus.yaml", func(r *run) string { return exporterConfig(r, r.pod) }, "the Operator's default rules",
				opMonitoring + " buildPrometheusConfigMap; content " + opPromConsts + " DefaultPrometheusConfiguration"},
			{"executor: " + promConfDir + "/prometheus.yaml", func(r *run) string { return exporterConfig(r, r.template) }, "the Operator's default rules", opPromPod},
		},
	}
}

// defaultMetricsProperties is the Operator's DefaultMetricsProperties, one
// line per property (compared without surrounding blank lines).
const defaultMetricsProperties = "*.sink.jmx.class=org.apache.spark.metrics.sink.JmxSink\n" +
	"driver.source.jvm.class=org.apache.spark.metrics.source.JvmSource\n" +
	"executor.source.jvm.class=org.apache.spark.metrics.source.JvmSource"

func metricsProperties(r *run, p *corev1.Pod) string {
	return strings.TrimSpace(fileAt(r, p, promConfDir+"/metrics.properties"))
}

// exporterConfig checks the JMX exporter configuration by the settings and
// metric names of the Operator's DefaultPrometheusConfiguration.
func exporterConfig(r *run, p *corev1.Pod) string {
	content := fileAt(r, p, promConfDir+"/prometheus.yaml")
	for _, want := range []string{"lowercaseOutputName: true", "attrNameSnakeCase: true",
		"name: spark_driver_$3_$4", "name: spark_streaming_driver_$4", "name: spark_structured_streaming_driver_$4",
		"name: spark_executor_$4", "name: spark_executor_CodeGenerator_$4_count"} {
		if !strings.Contains(content, want) {
			return "lacks '" + want + "': " + content
		}
	}
	return "the Operator's default rules"
}

// hostNetworkComparison is the seventh compared file: a driver and
// executors on the host network, with executors kept after the run.
func hostNetworkComparison() comparison {
	return comparison{
		file: "mesosphere-kudo-spark-operator_test-host-network_01-submit-spark-app.yaml",
		fields: []field{
			{"driver pod: hostNetwork", func(r *run) string { return fmt.Sprint(r.pod.Spec.HostNetwork) }, "true", opWebhook + " addHostNetwork"},
			{"driver pod: dnsPolicy", func(r *run) string { return string(r.pod.Spec.DNSPolicy) }, "ClusterFirstWithHostNet",
				opWebhook + " addHostNetwork: without it the driver cannot resolve cluster names"},
			{"executor: hostNetwork", func(r *run) string { return fmt.Sprint(r.template.Spec.HostNetwork) }, "true", opWebhook + " addHostNetwork"},
			{"executor: dnsPolicy", func(r *run) string { return string(r.template.Spec.DNSPolicy) }, "ClusterFirstWithHostNet", opWebhook + " addHostNetwork"},
			{"spark.kubernetes.executor.deleteOnTermination", prop("spark.kubernetes.executor.deleteOnTermination"), "false",
				opSubmit + " executorConfOption (spec.executor.deleteOnTermination)"},
			{"driver pod: args", func(r *run) string { return joinArgs(r.driver.Args) },
				"driver --properties-file /opt/spark/conf/spark.properties --class MockTaskRunner https://kudo-spark.s3-us-west-2.amazonaws.com/spark-scala-tests-3.0.0-20200819.jar 1 15",
				spCommand + ": a remote primary resource is passed as is"},
			{"spark.scheduler.maxRegisteredResourcesWaitingTime", prop("spark.scheduler.maxRegisteredResourcesWaitingTime"), "2400s", opSubmit + " sparkConfOption"},
		},
	}
}

func podAnnotation(key string) func(*run) string {
	return func(r *run) string { return r.pod.Annotations[key] }
}

// executorAnnotation is set on the template, or as
// spark.kubernetes.executor.annotation.<key>, which Spark puts on each
// executor.
func executorAnnotation(key string) func(*run) string {
	return func(r *run) string {
		if v, ok := r.template.Annotations[key]; ok {
			return v
		}
		return r.props["spark.kubernetes.executor.annotation."+key]
	}
}
