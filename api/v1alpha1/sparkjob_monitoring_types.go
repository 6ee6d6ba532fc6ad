package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// MonitoringSpec is the Spark Operator's spec.monitoring: Spark's metrics
// system configured through metrics.properties and exposed to Prometheus by
// the JMX exporter running as a Java agent in the driver and executors.
// Nothing is set up unless Prometheus is set, as with the Operator.
type MonitoringSpec struct {
	// ExposeDriverMetrics runs the exporter in the driver: the javaagent in
	// spark.driver.extraJavaOptions, the port and the prometheus.io
	// annotations on the driver pod.
	// +optional
	ExposeDriverMetrics bool `json:"exposeDriverMetrics,omitempty"`
	// ExposeExecutorMetrics does the same in the executors.
	// +optional
	ExposeExecutorMetrics bool `json:"exposeExecutorMetrics,omitempty"`
	// MetricsProperties is the content of metrics.properties, written to
	// the run's ConfigMap; the default enables the JMX sink and the JVM
	// source of the driver and executors.
	// +optional
	MetricsProperties *string `json:"metricsProperties,omitempty"`
	// MetricsPropertiesFile is a metrics.properties in the image; it wins
	// over MetricsProperties.
	// +optional
	MetricsPropertiesFile *string `json:"metricsPropertiesFile,omitempty"`
	// Prometheus configures the JMX exporter.
	// +optional
	Prometheus *PrometheusSpec `json:"prometheus,omitempty"`
}

// PrometheusSpec configures the Prometheus JMX exporter Java agent.
type PrometheusSpec struct {
	// JmxExporterJar is the path of the exporter's jar in the image.
	// +kubebuilder:validation:MinLength=1
	JmxExporterJar string `json:"jmxExporterJar"`
	// Port of the exporter's HTTP server; defaults to 8090.
	// +kubebuilder:validation:Minimum=1024
	// +kubebuilder:validation:Maximum=49151
	// +optional
	Port *int32 `json:"port,omitempty"`
	// PortName of the container port; defaults to "jmx-exporter".
	// +optional
	PortName *string `json:"portName,omitempty"`
	// ConfigFile is an exporter configuration in the image; it wins over
	// Configuration.
	// +optional
	ConfigFile *string `json:"configFile,omitempty"`
	// Configuration is the exporter's configuration (prometheus.yaml),
	// written to the run's ConfigMap; the default maps Spark's driver,
	// executor and streaming metrics to spark_* series.
	// +optional
	Configuration *string `json:"configuration,omitempty"`
}

// DriverIngressConfiguration is one entry of the Spark Operator's
// driverIngressOptions: a Service for one more port of the driver and,
// when IngressURLFormat is set, an Ingress to it.
type DriverIngressConfiguration struct {
	// ServicePort is both the service's port and the driver's target port.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	ServicePort *int32 `json:"servicePort"`
	// ServicePortName defaults to "driver-ing-<servicePort>".
	// +optional
	ServicePortName *string `json:"servicePortName,omitempty"`
	// ServiceType defaults to ClusterIP.
	// +optional
	ServiceType *corev1.ServiceType `json:"serviceType,omitempty"`
	// ServiceAnnotations are added to the service.
	// +optional
	ServiceAnnotations map[string]string `json:"serviceAnnotations,omitempty"`
	// ServiceLabels are added to the service.
	// +optional
	ServiceLabels map[string]string `json:"serviceLabels,omitempty"`
	// IngressURLFormat is host[/path] with {{$appName}} and {{$appNamespace}}.
	// +optional
	IngressURLFormat string `json:"ingressURLFormat,omitempty"`
	// IngressAnnotations are added to the Ingress.
	// +optional
	IngressAnnotations map[string]string `json:"ingressAnnotations,omitempty"`
	// IngressTLS of the Ingress.
	// +optional
	IngressTLS []networkingv1.IngressTLS `json:"ingressTLS,omitempty"`
}

// SparkUIConfiguration exposes the driver UI.
type SparkUIConfiguration struct {
	// ServicePort is the UI port on the driver service; defaults to 4040.
	// +optional
	ServicePort *int32 `json:"servicePort,omitempty"`
	// ServicePortName defaults to "spark-ui".
	// +optional
	ServicePortName *string `json:"servicePortName,omitempty"`
	// ServiceAnnotations are added to the driver service.
	// +optional
	ServiceAnnotations map[string]string `json:"serviceAnnotations,omitempty"`
	// ServiceLabels are added to the driver service.
	// +optional
	ServiceLabels map[string]string `json:"serviceLabels,omitempty"`
	// IngressHost, when set, creates an Ingress for the UI on that host.
	// +optional
	IngressHost string `json:"ingressHost,omitempty"`
	// IngressPath is the path prefix of the UI on IngressHost, for example
	// "/spark/{{namespace}}/{{job}}". A prefix other than "/" sets
	// spark.ui.proxyBase and spark.ui.proxyRedirectUri.
	// +optional
	IngressPath string `json:"ingressPath,omitempty"`
	// IngressClassName of the Ingress.
	// +optional
	IngressClassName *string `json:"ingressClassName,omitempty"`
	// IngressAnnotations are added to the Ingress.
	// +optional
	IngressAnnotations map[string]string `json:"ingressAnnotations,omitempty"`
	// IngressTLS of the Ingress.
	// +optional
	IngressTLS []networkingv1.IngressTLS `json:"ingressTLS,omitempty"`
	// ServiceType, when set, gives the UI a Service of its own of this type (see docs/monitoring.md).
	ServiceType *corev1.ServiceType `json:"serviceType,omitempty"`
	// IngressURLFormat is the Spark Operator's UI address, host[/path] with {{$appName}} and {{$appNamespace}}; ingressHost wins.
	IngressURLFormat string `json:"ingressURLFormat,omitempty"`
}
