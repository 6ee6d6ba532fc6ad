package admission

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/materialize"
	"github.com/sparkcd/sparkcd/render/sparkconf"
)

// Rules of the pod fields.
const (
	// RuleDriverPodName: driver.podName or spark.kubernetes.driver.pod.name
	// is set; every run's driver is named after the run instead.
	RuleDriverPodName = "driver-pod-name"
	// RuleExecutorPodNamePrefix: spark.kubernetes.executor.podNamePrefix is
	// set; it is made unique per run, or is no valid prefix.
	RuleExecutorPodNamePrefix = "executor-pod-name-prefix"
	// RuleInvalidGPU: gpu has no valid resource name or no positive quantity.
	RuleInvalidGPU = "invalid-gpu"
	// RuleMemoryLimit: memoryLimit is below the memory request, or raises
	// the executors' memory overhead.
	RuleMemoryLimit = "memory-limit"
	// RuleTemplateOverridden: a pod template sets what Spark or sparkcd sets
	// itself; the template's value has no effect.
	RuleTemplateOverridden = "template-overridden"
)

// sparkPorts are the driver container's own ports.
var sparkPorts = []struct {
	name string
	port int32
}{{"driver-rpc-port", sparkconf.DefaultDriverPort}, {"blockmanager", sparkconf.DefaultBlockManagerPort}, {"spark-ui", sparkconf.DefaultUIPort}}

// validatePodFields checks the fields the Spark Operator's webhook applies
// to the pods (memoryLimit, gpu, ports), the pod names and the templates.
func validatePodFields(f *findings, job *v1alpha1.SparkJob) {
	s := &job.Spec
	if p := s.Driver.PodName; p != nil && *p != "" {
		f.warnf(RuleDriverPodName, "spec.driver.podName",
			"spec.driver.podName %s is not used: every run's driver pod is named '<run>-driver' (such as '%s-<suffix>-driver'), so runs never collide and each keeps its own pod and logs; find a run's driver by the label 'sparkcd.io/run'",
			quoted(*p), job.Name)
	}
	if p, ok := s.SparkConf[sparkconf.KeyExecutorPodNamePrefix]; ok {
		validatePrefix(f, p)
	}
	for _, role := range []struct {
		name string
		pod  *v1alpha1.SparkPodSpec
	}{{"driver", &s.Driver.SparkPodSpec}, {"executor", &s.Executor.SparkPodSpec}} {
		base := "spec." + role.name
		validateMemoryLimit(f, job, role.name, role.pod.MemoryLimit)
		if g := role.pod.GPU; g != nil {
			if errs := validation.IsQualifiedName(g.Name); g.Name == "" || len(errs) > 0 || !strings.Contains(g.Name, "/") {
				f.errorf(RuleInvalidGPU, base+".gpu.name", "%s.gpu.name is %s: expected the device plugin's resource name, such as 'nvidia.com/gpu' or 'amd.com/gpu'", base, quoted(g.Name))
			}
			if g.Quantity <= 0 {
				f.errorf(RuleInvalidGPU, base+".gpu.quantity", "%s.gpu.quantity is %d: expected 1 or more (the Spark Operator silently adds no GPU)", base, g.Quantity)
			}
		}
		validatePorts(f, base, role.pod.Ports, role.name == "driver")
		validateTemplate(f, base, role.pod, role.name == "driver")
		validateTolerations(f, base, role.pod)
	}
}

func validatePrefix(f *findings, prefix string) {
	field := confField(sparkconf.KeyExecutorPodNamePrefix)
	got := materialize.ExecutorPodNamePrefix(prefix, "run")
	if errs := validation.IsDNS1123Label(got + "-exec-1"); len(errs) > 0 || strings.TrimSpace(prefix) == "" {
		f.errorf(RuleExecutorPodNamePrefix, field, "sparkConf sets %s to %s, which is no DNS label prefix (lowercase letters, digits and '-'): Spark refuses it; remove the entry or fix it",
			sparkconf.KeyExecutorPodNamePrefix, quoted(prefix))
		return
	}
	shown := strings.TrimSuffix(got, got[strings.LastIndexByte(got, '-'):])
	f.warnf(RuleExecutorPodNamePrefix, field,
		"sparkConf sets %s to %s: each run's executors are named '%s-<8 hex characters of the run>-exec-<n>', so the executors of two runs never collide",
		sparkconf.KeyExecutorPodNamePrefix, quoted(prefix), shown)
}

// validateMemoryLimit checks memoryLimit against the memory request Spark
// computes. The driver's limit is set as it is; the executors' raises their
// overhead, since Spark sets an executor's limit to its request.
func validateMemoryLimit(f *findings, job *v1alpha1.SparkJob, role string, lim *string) {
	if lim == nil {
		return
	}
	field := "spec." + role + ".memoryLimit"
	q, err := sparkconf.ParseMemoryLimit(*lim)
	if err != nil {
		f.errorf(RuleInvalidMemory, field, "%s is %s: %v", field, quoted(*lim), err)
		return
	}
	limitMiB := q.Value() / (1 << 20)
	without := job.DeepCopy()
	if role == "driver" {
		without.Spec.Driver.MemoryLimit = nil
	} else {
		without.Spec.Executor.MemoryLimit = nil
	}
	resources := sparkconf.DriverResources
	if role == "executor" {
		resources = sparkconf.ExecutorResources
	}
	r, err := resources(without)
	if err != nil {
		return // the memory findings say why
	}
	switch {
	case q.Value() < r.MemoryMiB<<20:
		f.errorf(RuleMemoryLimit, field, "%s %s is below the %s's memory request of %dMi (memory + overhead): Kubernetes rejects the pod; raise it to at least %dMi", field, quoted(*lim), role, r.MemoryMiB, r.MemoryMiB)
	case role == "executor" && limitMiB > r.MemoryMiB:
		f.warnf(RuleMemoryLimit, field, "%s %s: Spark sets an executor's memory limit equal to its request, so sparkcd raises spark.executor.memoryOverhead to %dm and each executor requests %dMi (with the Spark Operator it requests %dMi and may use up to the limit)",
			field, quoted(*lim), r.OverheadMiB+limitMiB-r.MemoryMiB, limitMiB, r.MemoryMiB)
	}
}

func validatePorts(f *findings, base string, ports []v1alpha1.Port, driver bool) {
	seen := map[string]bool{}
	for i, p := range ports {
		field := indexed(base+".ports", i)
		if errs := validation.IsValidPortName(p.Name); len(errs) > 0 {
			f.errorf(RuleInvalidPort, field+".name", "%s.name is %s: a port name is 1 to 15 lowercase letters, digits and '-', with a letter", field, quoted(p.Name))
		}
		if p.ContainerPort < 1 || p.ContainerPort > 65535 {
			f.errorf(RuleInvalidPort, field+".containerPort", "%s.containerPort is %d: expected 1 to 65535", field, p.ContainerPort)
		}
		switch corev1.Protocol(strings.ToUpper(p.Protocol)) {
		case "", corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		default:
			f.errorf(RuleInvalidPort, field+".protocol", "%s.protocol is %s: expected TCP, UDP or SCTP", field, quoted(p.Protocol))
		}
		if seen[p.Name] {
			f.errorf(RuleInvalidPort, field+".name", "%s.name %s is used twice: Kubernetes rejects the pod", field, quoted(p.Name))
		}
		seen[p.Name] = true
		if !driver {
			continue
		}
		for _, sp := range sparkPorts {
			if p.Name == sp.name || p.ContainerPort == sp.port {
				f.errorf(RuleInvalidPort, field, "%s (%s, %d) collides with Spark's driver port %s (%d): Kubernetes rejects a pod with two such ports; choose another name and number", field, quoted(p.Name), p.ContainerPort, quoted(sp.name), sp.port)
			}
		}
	}
}
