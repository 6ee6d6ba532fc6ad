package build

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// The Spark Operator's defaults that differ from sparkcd's, applied when a
// converted object leaves the field unset, so it behaves as it did.
const (
	operatorConcurrencyPolicy = v1alpha1.AllowConcurrent
	operatorRunHistoryLimit   = int32(1)
	operatorDefaultMaster     = "https://kubernetes.default.svc"
	// labelScheduledAppName is the label the Operator gives the runs of a
	// ScheduledSparkApplication, and their pods.
	labelScheduledAppName = "sparkoperator.k8s.io/scheduled-app-name"
)

// converter turns Spark Operator objects into SparkJobs. A field sparkcd
// cannot honour is a finding naming it: a warning when dropping it leaves
// the job's behaviour as it was (metrics, scheduler hints), an error when
// the job would run differently (retries, client mode). Fields SparkJob
// shares (pod templates, GPUs, ports, driver.podName) are copied, and
// admission judges them the same way for both kinds.
type converter struct {
	prefix   string // "spec." or "spec.template."
	findings []v1alpha1.Finding
}

func (c *converter) drop(sev v1alpha1.Severity, field, why string) {
	c.findings = append(c.findings, v1alpha1.Finding{Severity: sev, Rule: RuleUnsupported, Field: c.prefix + field,
		Message: fmt.Sprintf("'%s%s' is not supported by sparkcd and is ignored: %s", c.prefix, field, why)})
}

// deprecated reports a field the Spark Operator v2 no longer reads: it is
// ignored here as there, and the warning names the field that replaced it.
func (c *converter) deprecated(field, instead string) {
	c.findings = append(c.findings, v1alpha1.Finding{Severity: v1alpha1.SeverityWarning, Rule: RuleDeprecated, Field: c.prefix + field,
		Message: fmt.Sprintf("'%s%s' is deprecated and ignored, as by the Spark Operator v2: set '%s%s'", c.prefix, field, c.prefix, instead)})
}

// convertSparkApplication converts a SparkApplication; it runs once per
// distinct spec, as the operator runs it once.
func convertSparkApplication(app *sparkApplication, findings []v1alpha1.Finding) (*v1alpha1.SparkJob, []v1alpha1.Finding) {
	c := &converter{prefix: "spec.", findings: relaxTemplateFindings(findings)}
	job := &v1alpha1.SparkJob{ObjectMeta: *app.ObjectMeta.DeepCopy(), Spec: c.spec(&app.Spec)}
	return job, c.findings
}

// convertScheduledSparkApplication converts a ScheduledSparkApplication:
// its template becomes the spec, its schedule sparkcd's schedule.
func convertScheduledSparkApplication(app *scheduledSparkApplication, findings []v1alpha1.Finding) (*v1alpha1.SparkJob, []v1alpha1.Finding) {
	c := &converter{prefix: "spec.template.", findings: relaxTemplateFindings(findings)}
	s := &app.Spec
	spec := c.spec(&s.Template)
	spec.Schedule, spec.TimeZone = s.Schedule, s.TimeZone
	// A suspended template makes applications the Operator never submits.
	if s.Suspend != nil || spec.Suspend != nil {
		suspend := (s.Suspend != nil && *s.Suspend) || (spec.Suspend != nil && *spec.Suspend)
		spec.Suspend = &suspend
	}
	spec.ConcurrencyPolicy = v1alpha1.ConcurrencyPolicy(s.ConcurrencyPolicy)
	if spec.ConcurrencyPolicy == "" {
		spec.ConcurrencyPolicy = operatorConcurrencyPolicy
	}
	spec.SuccessfulRunHistoryLimit = orDefault(s.SuccessfulRunHistoryLimit, operatorRunHistoryLimit)
	spec.FailedRunHistoryLimit = orDefault(s.FailedRunHistoryLimit, operatorRunHistoryLimit)
	job := &v1alpha1.SparkJob{ObjectMeta: *app.ObjectMeta.DeepCopy(), Spec: spec}
	// The Operator labels each SparkApplication it creates with the
	// schedule's name (its own labels win) and hands the application's
	// labels on to the driver and executor pods; the job's labels reach
	// the run's pods the same way (runid.PropagatedLabels).
	labels := map[string]string{labelScheduledAppName: app.Name}
	for k, v := range app.Labels {
		labels[k] = v
	}
	job.Labels = labels
	return job, c.findings
}

func orDefault(v *int32, def int32) *int32 {
	if v != nil {
		return v
	}
	return &def
}

func (c *converter) spec(s *sparkApplicationSpec) v1alpha1.SparkJobSpec {
	out := v1alpha1.SparkJobSpec{
		Type:                 v1alpha1.SparkApplicationType(s.Type),
		SparkVersion:         s.SparkVersion,
		ProxyUser:            s.ProxyUser,
		Image:                s.Image,
		ImagePullPolicy:      s.ImagePullPolicy,
		ImagePullSecrets:     s.ImagePullSecrets,
		MainClass:            s.MainClass,
		MainApplicationFile:  s.MainApplicationFile,
		Arguments:            s.Arguments,
		SparkConf:            s.SparkConf,
		HadoopConf:           s.HadoopConf,
		SparkConfigMap:       s.SparkConfigMap,
		HadoopConfigMap:      s.HadoopConfigMap,
		Volumes:              s.Volumes,
		Deps:                 v1alpha1.Dependencies(s.Deps),
		NodeSelector:         s.NodeSelector,
		PythonVersion:        s.PythonVersion,
		MemoryOverheadFactor: s.MemoryOverheadFactor,
		TimeToLiveSeconds:    s.TimeToLiveSeconds,
		Driver:               c.driver(&s.Driver),
		Executor:             c.executor(&s.Executor),
		SparkUIOptions:       c.sparkUI(s.SparkUIOptions),
		DynamicAllocation:    dynamicAllocation(s.DynamicAllocation),
	}
	out.Monitoring, out.DriverIngressOptions = s.Monitoring, driverIngressOptions(s.DriverIngressOptions)
	out.Suspend, out.DriverPodDisruptionBudget = s.Suspend, s.DriverPodDisruptionBudget
	switch s.Mode {
	case "", string(v1alpha1.ClusterMode):
		out.Mode = v1alpha1.DeployMode(s.Mode)
	default:
		c.drop(v1alpha1.SeverityError, "mode", fmt.Sprintf("sparkcd runs drivers in cluster mode only, not '%s'", s.Mode))
	}
	// pythonVersion passes through as the Operator passes it to spark-submit
	// (spark.kubernetes.pyspark.pythonVersion); admission refuses "2" where
	// the job's Spark does.
	out.RestartPolicy = c.restartPolicy(s)
	// batchScheduler carries over under the same name; the CRD's enum (and
	// admission, for a value the Operator does not know) judges it.
	if s.BatchScheduler != nil {
		bs := v1alpha1.BatchScheduler(*s.BatchScheduler)
		out.BatchScheduler = &bs
	}
	if o := s.BatchSchedulerOptions; o != nil {
		out.BatchSchedulerOptions = &v1alpha1.BatchSchedulerConfiguration{
			Queue: o.Queue, PriorityClassName: o.PriorityClassName, Resources: o.Resources}
	}
	return out
}

// restartPolicy carries the Operator's restart policy over field by field:
// sparkcd's spec.restartPolicy has the same names, defaults and meaning
// (docs/restarts.md). The deprecated top-level failureRetries and
// retryInterval are read by no part of the Operator v2, so they change
// nothing there either; a warning says where the setting belongs.
func (c *converter) restartPolicy(s *sparkApplicationSpec) *v1alpha1.RestartPolicy {
	if s.FailureRetries != nil {
		c.deprecated("failureRetries", "restartPolicy.onFailureRetries")
	}
	if s.RetryInterval != nil {
		c.deprecated("retryInterval", "restartPolicy.onFailureRetryInterval")
	}
	rp := s.RestartPolicy
	if rp == nil {
		return nil
	}
	return &v1alpha1.RestartPolicy{
		Type:                             v1alpha1.RestartPolicyType(rp.Type),
		OnSubmissionFailureRetries:       rp.OnSubmissionFailureRetries,
		OnFailureRetries:                 rp.OnFailureRetries,
		OnSubmissionFailureRetryInterval: rp.OnSubmissionFailureRetryInterval,
		OnFailureRetryInterval:           rp.OnFailureRetryInterval,
	}
}

func (c *converter) podSpec(p *operatorPodSpec, ports []operatorPort) v1alpha1.SparkPodSpec {
	out := v1alpha1.SparkPodSpec{
		Cores:                         p.Cores,
		CoreLimit:                     p.CoreLimit,
		Memory:                        p.Memory,
		MemoryLimit:                   p.MemoryLimit,
		Template:                      p.Template,
		MemoryOverhead:                p.MemoryOverhead,
		Image:                         p.Image,
		Env:                           envFrom(p.Env, p.EnvVars, p.EnvSecretKeyRefs),
		EnvFrom:                       p.EnvFrom,
		Labels:                        p.Labels,
		Annotations:                   p.Annotations,
		VolumeMounts:                  p.VolumeMounts,
		Affinity:                      p.Affinity,
		Tolerations:                   p.Tolerations,
		PodSecurityContext:            p.PodSecurityContext,
		SecurityContext:               p.SecurityContext,
		SchedulerName:                 p.SchedulerName,
		Sidecars:                      p.Sidecars,
		InitContainers:                p.InitContainers,
		HostNetwork:                   p.HostNetwork,
		NodeSelector:                  p.NodeSelector,
		DNSConfig:                     p.DNSConfig,
		TerminationGracePeriodSeconds: p.TerminationGracePeriodSeconds,
		ServiceAccount:                p.ServiceAccount,
		HostAliases:                   p.HostAliases,
		ShareProcessNamespace:         p.ShareProcessNamespace,
		RuntimeClassName:              p.RuntimeClassName,
	}
	for _, port := range ports {
		out.Ports = append(out.Ports, v1alpha1.Port{Name: port.Name, Protocol: port.Protocol, ContainerPort: port.ContainerPort})
	}
	for _, cm := range p.ConfigMaps {
		out.ConfigMaps = append(out.ConfigMaps, v1alpha1.NamePath{Name: cm.Name, Path: cm.Path})
	}
	for _, s := range p.Secrets {
		out.Secrets = append(out.Secrets, v1alpha1.SecretInfo{Name: s.Name, Path: s.Path, Type: v1alpha1.SecretType(s.Type)})
	}
	if p.GPU != nil {
		out.GPU = &v1alpha1.GPUSpec{Name: p.GPU.Name, Quantity: p.GPU.Quantity}
	}
	return out
}

func (c *converter) driver(d *operatorDriverSpec) v1alpha1.DriverSpec {
	out := v1alpha1.DriverSpec{
		SparkPodSpec:       c.podSpec(&d.operatorPodSpec, d.Ports),
		PodName:            d.PodName,
		ServiceAnnotations: d.ServiceAnnotations,
		ServiceLabels:      d.ServiceLabels,
	}
	out.CoreRequest, out.JavaOptions, out.Lifecycle, out.PriorityClassName = d.CoreRequest, d.JavaOptions, d.Lifecycle, d.PriorityClassName
	if d.KubernetesMaster != nil && *d.KubernetesMaster != operatorDefaultMaster {
		c.drop(v1alpha1.SeverityError, "driver.kubernetesMaster", "drivers always talk to the API server of their own cluster")
	} else if d.KubernetesMaster != nil {
		c.drop(v1alpha1.SeverityWarning, "driver.kubernetesMaster", "it is the default")
	}
	return out
}

func (c *converter) executor(e *operatorExecutorSpec) v1alpha1.ExecutorSpec {
	out := v1alpha1.ExecutorSpec{
		SparkPodSpec:        c.podSpec(&e.operatorPodSpec, e.Ports),
		Instances:           e.Instances,
		DeleteOnTermination: e.DeleteOnTermination,
	}
	out.CoreRequest, out.JavaOptions, out.Lifecycle, out.PriorityClassName = e.CoreRequest, e.JavaOptions, e.Lifecycle, e.PriorityClassName
	return out
}

func (c *converter) sparkUI(ui *operatorSparkUI) *v1alpha1.SparkUIConfiguration {
	if ui == nil {
		return nil
	}
	out := &v1alpha1.SparkUIConfiguration{
		ServicePort:        ui.ServicePort,
		ServicePortName:    ui.ServicePortName,
		ServiceAnnotations: ui.ServiceAnnotations,
		ServiceLabels:      ui.ServiceLabels,
		IngressAnnotations: ui.IngressAnnotations,
		IngressTLS:         ui.IngressTLS,
		IngressURLFormat:   ui.IngressURLFormat,
	}
	if ui.ServiceType != nil {
		t := corev1.ServiceType(*ui.ServiceType)
		out.ServiceType = &t
	}
	return out
}

// dynamicAllocation converts the operator's block. The operator turns
// shuffle tracking on whenever dynamic allocation is on, unless told not to.
func dynamicAllocation(d *operatorDynamicAllocation) *v1alpha1.DynamicAllocation {
	if d == nil {
		return nil
	}
	out := &v1alpha1.DynamicAllocation{
		Enabled:                d.Enabled,
		InitialExecutors:       d.InitialExecutors,
		MinExecutors:           d.MinExecutors,
		MaxExecutors:           d.MaxExecutors,
		ShuffleTrackingEnabled: d.ShuffleTrackingEnabled,
		ShuffleTrackingTimeout: d.ShuffleTrackingTimeout,
	}
	if d.Enabled != nil && *d.Enabled && out.ShuffleTrackingEnabled == nil {
		on := true
		out.ShuffleTrackingEnabled = &on
	}
	return out
}

// envFrom merges the deprecated envVars and envSecretKeyRefs maps into env,
// sorted by name so the result does not depend on map order.
func envFrom(env []corev1.EnvVar, vars map[string]string, refs map[string]operatorNameKey) []corev1.EnvVar {
	out := append([]corev1.EnvVar(nil), env...)
	names := make([]string, 0, len(vars))
	for name := range vars {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		out = append(out, corev1.EnvVar{Name: name, Value: vars[name]})
	}
	names = names[:0]
	for name := range refs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ref := refs[name]
		out = append(out, corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: ref.Name}, Key: ref.Key},
		}})
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
