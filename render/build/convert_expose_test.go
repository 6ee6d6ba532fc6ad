package build

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// TestConvertExposeFields: spec.monitoring, sparkUIOptions (serviceType,
// ingressURLFormat, ingressAnnotations, ingressTLS), driverIngressOptions,
// driverPodDisruptionBudget and suspend reach the SparkJob whole, without
// a finding.
func TestConvertExposeFields(t *testing.T) {
	doc := `apiVersion: sparkoperator.k8s.io/v1beta2
kind: SparkApplication
metadata: {name: a, namespace: ns}
spec:
  type: Scala
  sparkVersion: 3.5.3
  mainApplicationFile: local:///a.jar
  suspend: true
  driverPodDisruptionBudget: true
  monitoring:
    exposeDriverMetrics: true
    exposeExecutorMetrics: false
    metricsProperties: "*.sink.jmx.class=org.apache.spark.metrics.sink.JmxSink"
    metricsPropertiesFile: /m.properties
    prometheus: {jmxExporterJar: /j.jar, port: 9100, portName: m, configFile: /c.yaml, configuration: "rules: []"}
  sparkUIOptions:
    serviceType: LoadBalancer
    ingressURLFormat: "{{$appName}}.example.com"
    ingressAnnotations: {a: b}
    ingressTLS: [{hosts: [x.example.com], secretName: s}]
  driverIngressOptions:
    - {servicePort: 8888, servicePortName: nb, serviceType: NodePort, serviceAnnotations: {c: d}, serviceLabels: {e: f},
       ingressURLFormat: nb.example.com, ingressAnnotations: {g: h}, ingressTLS: [{secretName: t}]}
`
	jobs, err := Decode([]byte(doc), Origin{File: "a.yaml"})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("Decode: %v, %d jobs", err, len(jobs))
	}
	if len(jobs[0].Findings) > 0 {
		t.Errorf("findings: %+v", jobs[0].Findings)
	}
	s := jobs[0].Object.Spec
	lb, np := corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort
	want := struct {
		Suspend, PDB *bool
		Monitoring   *v1alpha1.MonitoringSpec
		UI           *v1alpha1.SparkUIConfiguration
		Ingress      []v1alpha1.DriverIngressConfiguration
	}{
		Suspend: refOf(true), PDB: refOf(true),
		Monitoring: &v1alpha1.MonitoringSpec{ExposeDriverMetrics: true,
			MetricsProperties: refOf("*.sink.jmx.class=org.apache.spark.metrics.sink.JmxSink"), MetricsPropertiesFile: refOf("/m.properties"),
			Prometheus: &v1alpha1.PrometheusSpec{JmxExporterJar: "/j.jar", Port: refOf(int32(9100)), PortName: refOf("m"),
				ConfigFile: refOf("/c.yaml"), Configuration: refOf("rules: []")}},
		UI: &v1alpha1.SparkUIConfiguration{ServiceType: &lb, IngressURLFormat: "{{$appName}}.example.com",
			IngressAnnotations: map[string]string{"a": "b"},
			IngressTLS:         []networkingv1.IngressTLS{{Hosts: []string{"x.example.com"}, SecretName: "s"}}},
		Ingress: []v1alpha1.DriverIngressConfiguration{{ServicePort: refOf(int32(8888)), ServicePortName: refOf("nb"), ServiceType: &np,
			ServiceAnnotations: map[string]string{"c": "d"}, ServiceLabels: map[string]string{"e": "f"},
			IngressURLFormat: "nb.example.com", IngressAnnotations: map[string]string{"g": "h"},
			IngressTLS: []networkingv1.IngressTLS{{SecretName: "t"}}}},
	}
	got := want
	got.Suspend, got.PDB, got.Monitoring, got.UI, got.Ingress = s.Suspend, s.DriverPodDisruptionBudget, s.Monitoring, s.SparkUIOptions, s.DriverIngressOptions
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("converted fields (-want +got):\n%s", diff)
	}
}

// TestConvertScheduledSuspend: a ScheduledSparkApplication is suspended
// when its spec or its template says so (the Operator would create
// applications it never submits).
func TestConvertScheduledSuspend(t *testing.T) {
	for _, tt := range []struct {
		spec, template string
		want           *bool
	}{
		{"", "", nil},
		{"suspend: false", "", refOf(false)},
		{"suspend: true", "", refOf(true)},
		{"", "suspend: true", refOf(true)},
		{"suspend: false", "suspend: true", refOf(true)},
		{"", "suspend: false", refOf(false)},
	} {
		doc := "apiVersion: sparkoperator.k8s.io/v1beta2\nkind: ScheduledSparkApplication\nmetadata: {name: a}\nspec:\n  schedule: '@daily'\n  " +
			tt.spec + "\n  template:\n    type: Scala\n    sparkVersion: 3.5.3\n    mainApplicationFile: local:///a.jar\n    " + tt.template + "\n"
		jobs, err := Decode([]byte(doc), Origin{File: "a.yaml"})
		if err != nil || len(jobs) != 1 || jobs[0].Object == nil {
			t.Fatalf("Decode: %v, %+v", err, jobs)
		}
		if got := jobs[0].Object.Spec.Suspend; !cmp.Equal(got, tt.want) {
			t.Errorf("spec %q, template %q: suspend = %v, want %v", tt.spec, tt.template, ptrString(got), ptrString(tt.want))
		}
	}
}

func ptrString(b *bool) string {
	if b == nil {
		return "unset"
	}
	if *b {
		return "true"
	}
	return "false"
}
