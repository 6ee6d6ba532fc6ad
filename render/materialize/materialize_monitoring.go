package materialize

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// The Spark Operator's Prometheus monitoring (spec.monitoring), rendered as
// the Operator renders it: the same javaagent argument, Spark properties,
// pod annotations, container port, mount path, file names and defaults. One
// difference by design: the two files go into the run's own ConfigMap, not
// into a ConfigMap per application. docs/monitoring.md compares field by
// field.
const (
	metricsConfDir          = "/etc/metrics/conf"
	metricsPropertiesKey    = "metrics.properties"
	prometheusConfigKey     = "prometheus.yaml"
	metricsVolumeName       = "spark-metrics-conf"
	defaultExporterPort     = int32(8090)
	defaultExporterPortName = "jmx-exporter"

	keyMetricsNamespace = "spark.metrics.namespace"
	keyMetricsConf      = "spark.metrics.conf"

	annotationScrape = "prometheus.io/scrape"
	annotationPort   = "prometheus.io/port"
	annotationPath   = "prometheus.io/path"
)

// monitoring reports the job's Prometheus settings, or nil when nothing is
// set up: like the Operator, sparkcd does nothing without
// monitoring.prometheus.
func monitoring(spec *v1alpha1.SparkJobSpec) *v1alpha1.MonitoringSpec {
	if spec.Monitoring == nil || spec.Monitoring.Prometheus == nil {
		return nil
	}
	return spec.Monitoring
}

// monitoringExposed reports whether the driver's (or the executors') pods
// run the exporter.
func monitoringExposed(spec *v1alpha1.SparkJobSpec, driver bool) bool {
	mon := monitoring(spec)
	if mon == nil {
		return false
	}
	if driver {
		return mon.ExposeDriverMetrics
	}
	return mon.ExposeExecutorMetrics
}

func exporterPort(mon *v1alpha1.MonitoringSpec) int32 {
	if p := mon.Prometheus.Port; p != nil {
		return *p
	}
	return defaultExporterPort
}

func exporterPortName(mon *v1alpha1.MonitoringSpec) string {
	if n := mon.Prometheus.PortName; n != nil && *n != "" {
		return *n
	}
	return defaultExporterPortName
}

func metricsPropertiesFile(mon *v1alpha1.MonitoringSpec) string {
	if f := mon.MetricsPropertiesFile; f != nil {
		return *f
	}
	return ""
}

func exporterConfigFile(mon *v1alpha1.MonitoringSpec) string {
	if f := mon.Prometheus.ConfigFile; f != nil {
		return *f
	}
	return ""
}

// applyMonitoring changes the job's copy as the Operator changes an
// application before it submits it: spark.metrics.namespace and
// spark.metrics.conf in sparkConf (over the user's entries, as the
// Operator overwrites them), and for each exposed role the javaagent
// appended to its javaOptions and the prometheus.io annotations.
func applyMonitoring(j *v1alpha1.SparkJob) error {
	mon := monitoring(&j.Spec)
	if mon == nil {
		return nil
	}
	if mon.Prometheus.JmxExporterJar == "" {
		return fmt.Errorf("job '%s' sets spec.monitoring.prometheus without jmxExporterJar: the javaagent needs the path of the JMX exporter's jar in the image", j.Name)
	}
	port := exporterPort(mon)
	if port < 1024 || port > 49151 {
		return fmt.Errorf("job '%s' sets spec.monitoring.prometheus.port to %d: it must be from 1024 to 49151", j.Name, port)
	}
	config := exporterConfigFile(mon)
	if config == "" {
		config = metricsConfDir + "/" + prometheusConfigKey
	}
	agent := fmt.Sprintf("-javaagent:%s=%d:%s", mon.Prometheus.JmxExporterJar, port, config)

	conf := metricsConfDir + "/" + metricsPropertiesKey
	if f := metricsPropertiesFile(mon); f != "" {
		conf = f
	}
	if j.Spec.SparkConf == nil {
		j.Spec.SparkConf = map[string]string{}
	}
	j.Spec.SparkConf[keyMetricsNamespace] = j.Namespace + "." + j.Name
	j.Spec.SparkConf[keyMetricsConf] = conf

	if mon.ExposeDriverMetrics {
		exposeRole(&j.Spec.Driver.SparkPodSpec, &j.Spec.Driver.JavaOptions, agent, port)
	}
	if mon.ExposeExecutorMetrics {
		exposeRole(&j.Spec.Executor.SparkPodSpec, &j.Spec.Executor.JavaOptions, agent, port)
	}
	return nil
}

func exposeRole(p *v1alpha1.SparkPodSpec, javaOptions **string, agent string, port int32) {
	p.Annotations = mergeMaps(p.Annotations, map[string]string{
		annotationScrape: "true",
		annotationPort:   strconv.Itoa(int(port)),
		annotationPath:   "/metrics",
	})
	opts := agent
	if *javaOptions != nil {
		opts = **javaOptions + " " + agent
	}
	*javaOptions = &opts
}

// monitoringData is what the run's ConfigMap holds for monitoring: the
// metrics.properties unless the image has its own, the exporter's
// configuration unless the image has its own.
func monitoringData(spec *v1alpha1.SparkJobSpec) map[string]string {
	mon := monitoring(spec)
	if mon == nil {
		return nil
	}
	data := map[string]string{}
	if metricsPropertiesFile(mon) == "" {
		data[metricsPropertiesKey] = defaultMetricsProperties
		if mon.MetricsProperties != nil {
			data[metricsPropertiesKey] = *mon.MetricsProperties
		}
	}
	if exporterConfigFile(mon) == "" {
		data[prometheusConfigKey] = defaultPrometheusConfiguration
		if mon.Prometheus.Configuration != nil {
			data[prometheusConfigKey] = *mon.Prometheus.Configuration
		}
	}
	return data
}

// monitorPod gives a pod of an exposed role the exporter's container port
// and, when the ConfigMap holds one of the files, mounts them at
// /etc/metrics/conf, as the Operator's pod webhook does. The Operator adds
// neither when both files come from the image; sparkcd still declares the
// port, which a PodMonitor may select by name.
func (m *materializer) monitorPod(pod *corev1.Pod, exposed bool) error {
	mon := monitoring(&m.job.Spec)
	if !exposed || len(pod.Spec.Containers) == 0 {
		return nil
	}
	c := &pod.Spec.Containers[0]
	port, name := exporterPort(mon), exporterPortName(mon)
	for _, p := range c.Ports {
		if p.Name == name || p.ContainerPort == port {
			return fmt.Errorf("job '%s': the JMX exporter's port %d ('%s', spec.monitoring.prometheus) clashes with the container's port %d ('%s')", m.job.Name, port, name, p.ContainerPort, p.Name)
		}
	}
	c.Ports = append(c.Ports, corev1.ContainerPort{Name: name, ContainerPort: port, Protocol: corev1.ProtocolTCP})

	data := monitoringData(&m.job.Spec)
	if len(data) == 0 {
		return nil
	}
	items := make([]corev1.KeyToPath, 0, len(data))
	for _, key := range []string{metricsPropertiesKey, prometheusConfigKey} {
		if _, ok := data[key]; ok {
			items = append(items, corev1.KeyToPath{Key: key, Path: key})
		}
	}
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: metricsVolumeName, VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: m.configMapName}, Items: items},
	}})
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: metricsVolumeName, MountPath: metricsConfDir})
	return nil
}
