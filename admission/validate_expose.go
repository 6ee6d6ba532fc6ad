package admission

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// Rules of spec.monitoring, sparkUIOptions' service and ingress, and
// driverIngressOptions.
const (
	// RuleNoEffect: a field that does nothing as it is set, on the Spark
	// Operator as in sparkcd.
	RuleNoEffect = "no-effect"
	// RuleShadowedField: a field another field overrides.
	RuleShadowedField = "shadowed-field"
	// RuleInvalidMonitoring: spec.monitoring cannot be set up.
	RuleInvalidMonitoring = "invalid-monitoring"
	// RuleInvalidExposure: a service or ingress of the driver cannot be made.
	RuleInvalidExposure = "invalid-exposure"
)

// validateExpose checks what exposes the driver: metrics, the UI, more ports.
func validateExpose(f *findings, job *v1alpha1.SparkJob) {
	s := &job.Spec
	validateMonitoring(f, s.Monitoring)
	if ui := s.SparkUIOptions; ui != nil {
		if ui.IngressHost != "" && ui.IngressURLFormat != "" {
			f.warnf(RuleShadowedField, "spec.sparkUIOptions.ingressURLFormat",
				"sparkUIOptions sets both ingressHost and ingressURLFormat: the Ingress is made from ingressHost and ingressPath; remove one")
		}
		checkServiceType(f, "spec.sparkUIOptions.serviceType", ui.ServiceType)
	}
	seen := map[int32]int{}
	for i, o := range s.DriverIngressOptions {
		field := fmt.Sprintf("spec.driverIngressOptions[%d]", i)
		checkServiceType(f, field+".serviceType", o.ServiceType)
		if o.ServicePort == nil || *o.ServicePort < 1 || *o.ServicePort > 65535 {
			f.errorf(RuleInvalidExposure, field+".servicePort", "driverIngressOptions[%d] needs a servicePort from 1 to 65535: the port of the driver its Service leads to", i)
			continue
		}
		if j, ok := seen[*o.ServicePort]; ok {
			f.errorf(RuleInvalidExposure, field+".servicePort", "driverIngressOptions[%d] exposes port %d as [%d] does: each port gets one Service and Ingress", i, *o.ServicePort, j)
		}
		seen[*o.ServicePort] = i
	}
}

func validateMonitoring(f *findings, m *v1alpha1.MonitoringSpec) {
	if m == nil {
		return
	}
	p := m.Prometheus
	if p == nil {
		f.warnf(RuleNoEffect, "spec.monitoring", "monitoring without prometheus sets nothing up, on the Spark Operator as in sparkcd: add prometheus.jmxExporterJar")
		return
	}
	if p.JmxExporterJar == "" {
		f.errorf(RuleInvalidMonitoring, "spec.monitoring.prometheus.jmxExporterJar", "monitoring.prometheus needs jmxExporterJar, the path of the JMX exporter's jar in the image, for the javaagent")
	}
	if p.Port != nil && (*p.Port < 1024 || *p.Port > 49151) {
		f.errorf(RuleInvalidMonitoring, "spec.monitoring.prometheus.port", "monitoring.prometheus.port is %d: it must be from 1024 to 49151", *p.Port)
	}
	if !m.ExposeDriverMetrics && !m.ExposeExecutorMetrics {
		f.warnf(RuleNoEffect, "spec.monitoring", "neither exposeDriverMetrics nor exposeExecutorMetrics is true: no exporter runs and no pod mounts metrics.properties")
	}
}

func checkServiceType(f *findings, field string, t *corev1.ServiceType) {
	if t == nil {
		return
	}
	switch *t {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
	default:
		f.errorf(RuleInvalidExposure, field, "service type %s is not one of ClusterIP, NodePort, LoadBalancer", quoted(string(*t)))
	}
}
