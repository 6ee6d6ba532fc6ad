package materialize

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

func monitoredJob(mon *v1alpha1.MonitoringSpec) *v1alpha1.SparkJob {
	image, class, file := "spark:3.5.3", "com.example.Main", "local:///opt/app.jar"
	return &v1alpha1.SparkJob{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns"},
		Spec: v1alpha1.SparkJobSpec{Type: v1alpha1.ScalaApplication, Image: &image, MainClass: &class,
			MainApplicationFile: &file, Monitoring: mon},
	}
}

func ref[T any](v T) *T { return &v }

// monitoringView is every place the Operator's monitoring shows in a run.
type monitoringView struct {
	DriverJava, ExecutorJava     string
	MetricsConf, MetricsNS       string
	DriverAnn, ExecutorAnn       map[string]string
	DriverPorts, ExecutorPorts   []corev1.ContainerPort
	DriverMount, ExecutorMount   []string // "volume:path", of the metrics volume
	ConfigMapKeys, VolumeItemsOf []string
}

func viewMonitoring(t *testing.T, objs *Objects) monitoringView {
	t.Helper()
	props := parseProperties(objs.ConfigMap.Data[sparkPropertiesFile])
	template := &corev1.Pod{}
	if err := yaml.UnmarshalStrict([]byte(objs.ConfigMap.Data[podTemplateKey]), template); err != nil {
		t.Fatal(err)
	}
	v := monitoringView{
		DriverJava: props["spark.driver.extraJavaOptions"], ExecutorJava: props["spark.executor.extraJavaOptions"],
		MetricsConf: props[keyMetricsConf], MetricsNS: props[keyMetricsNamespace],
		DriverAnn: promAnnotations(objs.Pod), ExecutorAnn: promAnnotations(template),
	}
	for _, p := range objs.Pod.Spec.Containers[0].Ports {
		if p.Name != driverPortName && p.Name != blockManagerPortName && p.Name != uiPortName {
			v.DriverPorts = append(v.DriverPorts, p)
		}
	}
	v.ExecutorPorts = template.Spec.Containers[0].Ports
	v.DriverMount, v.ExecutorMount = metricsMounts(objs.Pod), metricsMounts(template)
	for _, k := range []string{metricsPropertiesKey, prometheusConfigKey} {
		if _, ok := objs.ConfigMap.Data[k]; ok {
			v.ConfigMapKeys = append(v.ConfigMapKeys, k)
		}
	}
	for _, vol := range objs.Pod.Spec.Volumes {
		if vol.Name == metricsVolumeName {
			for _, it := range vol.ConfigMap.Items {
				v.VolumeItemsOf = append(v.VolumeItemsOf, vol.ConfigMap.Name+"/"+it.Key)
			}
		}
	}
	return v
}

func parseProperties(s string) map[string]string {
	out := map[string]string{}
	r := strings.NewReplacer(`\:`, ":", `\=`, "=", `\ `, " ")
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			out[r.Replace(k)] = r.Replace(v)
		}
	}
	return out
}

func promAnnotations(p *corev1.Pod) map[string]string {
	var out map[string]string
	for k, v := range p.Annotations {
		if strings.HasPrefix(k, "prometheus.io/") {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

func metricsMounts(p *corev1.Pod) []string {
	var out []string
	for _, m := range p.Spec.Containers[0].VolumeMounts {
		if m.Name == metricsVolumeName {
			out = append(out, m.Name+":"+m.MountPath)
		}
	}
	return out
}

// TestMonitoringAsTheOperator checks, field by field, that spec.monitoring
// shows where the Spark Operator puts it (v2.5.2:
// internal/controller/sparkapplication/monitoring_config.go for the
// javaagent, Spark properties, annotations and ConfigMap content;
// internal/webhook/sparkpod_defaulter.go addPrometheusConfig for the mount
// at /etc/metrics/conf and the container port; pkg/common/prometheus.go
// for the defaults: port 8090, port name jmx-exporter, TCP).
func TestMonitoringAsTheOperator(t *testing.T) {
	jar := "/prometheus/jmx.jar"
	scrape := func(port string) map[string]string {
		return map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": port, "prometheus.io/path": "/metrics"}
	}
	cm := "app-run-conf"
	tests := []struct {
		name string
		mon  *v1alpha1.MonitoringSpec
		want monitoringView
	}{
		{name: "no prometheus: the Operator sets nothing up",
			mon: &v1alpha1.MonitoringSpec{ExposeDriverMetrics: true, MetricsProperties: ref("x=y")}},
		{name: "defaults, driver and executors",
			mon: &v1alpha1.MonitoringSpec{ExposeDriverMetrics: true, ExposeExecutorMetrics: true, Prometheus: &v1alpha1.PrometheusSpec{JmxExporterJar: jar}},
			want: monitoringView{
				DriverJava:   "-javaagent:/prometheus/jmx.jar=8090:/etc/metrics/conf/prometheus.yaml",
				ExecutorJava: "-javaagent:/prometheus/jmx.jar=8090:/etc/metrics/conf/prometheus.yaml",
				MetricsConf:  "/etc/metrics/conf/metrics.properties", MetricsNS: "ns.app",
				DriverAnn: scrape("8090"), ExecutorAnn: scrape("8090"),
				DriverPorts:   []corev1.ContainerPort{{Name: "jmx-exporter", ContainerPort: 8090, Protocol: corev1.ProtocolTCP}},
				ExecutorPorts: []corev1.ContainerPort{{Name: "jmx-exporter", ContainerPort: 8090, Protocol: corev1.ProtocolTCP}},
				DriverMount:   []string{"spark-metrics-conf:/etc/metrics/conf"}, ExecutorMount: []string{"spark-metrics-conf:/etc/metrics/conf"},
				ConfigMapKeys: []string{"metrics.properties", "prometheus.yaml"},
				VolumeItemsOf: []string{cm + "/metrics.properties", cm + "/prometheus.yaml"},
			}},
		{name: "executors only, custom port and name: spark.metrics.* are still set",
			mon: &v1alpha1.MonitoringSpec{ExposeExecutorMetrics: true, Prometheus: &v1alpha1.PrometheusSpec{JmxExporterJar: jar, Port: ref(int32(9100)), PortName: ref("metrics")}},
			want: monitoringView{
				ExecutorJava: "-javaagent:/prometheus/jmx.jar=9100:/etc/metrics/conf/prometheus.yaml",
				MetricsConf:  "/etc/metrics/conf/metrics.properties", MetricsNS: "ns.app",
				ExecutorAnn:   scrape("9100"),
				ExecutorPorts: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9100, Protocol: corev1.ProtocolTCP}},
				ExecutorMount: []string{"spark-metrics-conf:/etc/metrics/conf"},
				ConfigMapKeys: []string{"metrics.properties", "prometheus.yaml"},
			}},
		{name: "files in the image win over content",
			mon: &v1alpha1.MonitoringSpec{ExposeDriverMetrics: true, MetricsPropertiesFile: ref("/opt/m.properties"), MetricsProperties: ref("ignored=1"),
				Prometheus: &v1alpha1.PrometheusSpec{JmxExporterJar: jar, ConfigFile: ref("/opt/jmx.yaml"), Configuration: ref("ignored: 1")}},
			want: monitoringView{
				DriverJava:  "-javaagent:/prometheus/jmx.jar=8090:/opt/jmx.yaml",
				MetricsConf: "/opt/m.properties", MetricsNS: "ns.app",
				DriverAnn:   scrape("8090"),
				DriverPorts: []corev1.ContainerPort{{Name: "jmx-exporter", ContainerPort: 8090, Protocol: corev1.ProtocolTCP}},
			}},
		{name: "one file in the image: the other is mounted",
			mon: &v1alpha1.MonitoringSpec{ExposeDriverMetrics: true, MetricsPropertiesFile: ref("/opt/m.properties"),
				Prometheus: &v1alpha1.PrometheusSpec{JmxExporterJar: jar}},
			want: monitoringView{
				DriverJava:  "-javaagent:/prometheus/jmx.jar=8090:/etc/metrics/conf/prometheus.yaml",
				MetricsConf: "/opt/m.properties", MetricsNS: "ns.app",
				DriverAnn:   scrape("8090"),
				DriverPorts: []corev1.ContainerPort{{Name: "jmx-exporter", ContainerPort: 8090, Protocol: corev1.ProtocolTCP}},
				DriverMount: []string{"spark-metrics-conf:/etc/metrics/conf"}, ConfigMapKeys: []string{"prometheus.yaml"},
				VolumeItemsOf: []string{cm + "/prometheus.yaml"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := monitoredJob(tt.mon)
			id := runid.OfflineRun(job, "")
			id.Name = "app-run"
			objs, err := Materialize(job, id, DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, viewMonitoring(t, objs)); diff != "" {
				t.Errorf("monitoring (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMonitoringContent checks the content the ConfigMap carries: the
// user's own, else the Operator's defaults.
func TestMonitoringContent(t *testing.T) {
	job := monitoredJob(&v1alpha1.MonitoringSpec{ExposeDriverMetrics: true,
		Prometheus: &v1alpha1.PrometheusSpec{JmxExporterJar: "/j.jar"}})
	objs, err := Materialize(job, runid.OfflineRun(job, ""), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	props := strings.Fields(objs.ConfigMap.Data[metricsPropertiesKey])
	wantProps := []string{
		"*.sink.jmx.class=org.apache.spark.metrics.sink.JmxSink",
		"driver.source.jvm.class=org.apache.spark.metrics.source.JvmSource",
		"executor.source.jvm.class=org.apache.spark.metrics.source.JvmSource",
	}
	if diff := cmp.Diff(wantProps, props); diff != "" {
		t.Errorf("default metrics.properties (-want +got):\n%s", diff)
	}
	var conf struct {
		LowercaseOutputName bool `json:"lowercaseOutputName"`
		AttrNameSnakeCase   bool `json:"attrNameSnakeCase"`
		Rules               []struct {
			Pattern, Name, Type string
			Labels              map[string]string
		} `json:"rules"`
	}
	if err := yaml.UnmarshalStrict([]byte(objs.ConfigMap.Data[prometheusConfigKey]), &conf); err != nil {
		t.Fatalf("default prometheus.yaml: %v", err)
	}
	if !conf.LowercaseOutputName || !conf.AttrNameSnakeCase || len(conf.Rules) != 13 {
		t.Fatalf("default prometheus.yaml: lowercaseOutputName %v, attrNameSnakeCase %v, %d rules; want true, true, 13",
			conf.LowercaseOutputName, conf.AttrNameSnakeCase, len(conf.Rules))
	}
	// Spot checks of the Operator's series: the first gauge, the structured
	// streaming query label, the last executor counter.
	first, streaming, last := conf.Rules[0], conf.Rules[2], conf.Rules[12]
	if first.Pattern != `metrics<name=(\S+)\.(\S+)\.driver\.(BlockManager|DAGScheduler|jvm)\.(\S+)><>Value` ||
		first.Name != "spark_driver_$3_$4" || first.Type != "GAUGE" ||
		!cmp.Equal(first.Labels, map[string]string{"app_namespace": "$1", "app_id": "$2"}) {
		t.Errorf("rule 1 = %+v", first)
	}
	if streaming.Name != "spark_structured_streaming_driver_$4" || streaming.Labels["query_name"] != "$3" {
		t.Errorf("rule 3 = %+v", streaming)
	}
	if last.Pattern != `metrics<name=(\S+)\.(\S+)\.([0-9]+)\.CodeGenerator\.(.*)><>Count` ||
		last.Name != "spark_executor_CodeGenerator_$4_count" || last.Type != "COUNTER" || last.Labels["executor_id"] != "$3" {
		t.Errorf("rule 13 = %+v", last)
	}

	job.Spec.Monitoring.MetricsProperties = ref("*.sink.prometheusServlet.class=x")
	job.Spec.Monitoring.Prometheus.Configuration = ref("rules: []")
	objs, err = Materialize(job, runid.OfflineRun(job, ""), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if got := objs.ConfigMap.Data[metricsPropertiesKey]; got != "*.sink.prometheusServlet.class=x" {
		t.Errorf("metrics.properties = %q, want the job's", got)
	}
	if got := objs.ConfigMap.Data[prometheusConfigKey]; got != "rules: []" {
		t.Errorf("prometheus.yaml = %q, want the job's", got)
	}
}

func TestMonitoringErrors(t *testing.T) {
	tests := []struct {
		name string
		mon  *v1alpha1.MonitoringSpec
		want string
	}{
		{"no jar", &v1alpha1.MonitoringSpec{ExposeDriverMetrics: true, Prometheus: &v1alpha1.PrometheusSpec{}}, "spec.monitoring.prometheus without jmxExporterJar"},
		{"port out of range", &v1alpha1.MonitoringSpec{Prometheus: &v1alpha1.PrometheusSpec{JmxExporterJar: "/j", Port: ref(int32(80))}}, "from 1024 to 49151"},
		{"port taken by the UI", &v1alpha1.MonitoringSpec{ExposeDriverMetrics: true, Prometheus: &v1alpha1.PrometheusSpec{JmxExporterJar: "/j", Port: ref(int32(4040))}}, "clashes with the container's port 4040"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := monitoredJob(tt.mon)
			_, err := Materialize(job, runid.OfflineRun(job, ""), DefaultOptions())
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "'app'") {
				t.Errorf("error = %v, want one naming the job and saying %q", err, tt.want)
			}
		})
	}
}
