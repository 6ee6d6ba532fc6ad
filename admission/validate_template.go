package admission

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/materialize"
)

// validateTemplate warns about what a pod template sets that Spark or
// sparkcd sets itself (KubernetesUtils.loadPodFromTemplate keeps the rest):
// the pod's identity, the driver's restart policy, and the Spark container's
// name, image, pull policy, driver arguments, cpu and memory requests, memory
// limit and, when coreLimit is set, cpu limit.
func validateTemplate(f *findings, base string, pod *v1alpha1.SparkPodSpec, driver bool) {
	tpl := pod.Template
	if tpl == nil {
		return
	}
	field := base + ".template"
	over := func(path, why string) {
		f.warnf(RuleTemplateOverridden, field+path, "%s%s is set, but %s: the template's value has no effect", field, path, why)
	}
	m := &tpl.ObjectMeta
	if m.Name != "" || m.GenerateName != "" {
		over(".metadata.name", "sparkcd and Spark name the pods of each run")
	}
	if m.Namespace != "" {
		over(".metadata.namespace", "the pods run in the job's namespace")
	}
	if len(m.OwnerReferences) > 0 {
		over(".metadata.ownerReferences", "sparkcd and Spark set the pods' owners")
	}
	want, role := "spark-kubernetes-executor", "executor"
	if driver {
		want, role = "spark-kubernetes-driver", "driver"
		if rp := tpl.Spec.RestartPolicy; rp != "" && rp != corev1.RestartPolicyNever {
			over(".spec.restartPolicy", "Spark's driver pod never restarts (Never)")
		}
	}
	i := materialize.SparkContainerIndex(tpl.Spec.Containers, want)
	if i < 0 {
		return
	}
	c := &tpl.Spec.Containers[i]
	path := indexed(".spec.containers", i)
	if c.Name != want {
		f.warnf(RuleTemplateOverridden, field+path+".name", "%s%s.name is %s: it is the %s's Spark container (there is none named %s), which sparkcd names %s",
			field, path, quoted(c.Name), role, quoted(want), quoted(want))
	}
	if c.Image != "" {
		over(path+".image", "Spark sets the image from spec.image or spec."+role+".image")
	}
	if c.ImagePullPolicy != "" {
		over(path+".imagePullPolicy", "Spark sets it from spec.imagePullPolicy")
	}
	if driver && len(c.Args) > 0 {
		over(path+".args", "Spark's driver arguments run the application")
	}
	for j, p := range c.Ports {
		for _, sp := range sparkPorts {
			if driver && (p.Name == sp.name || p.ContainerPort == sp.port) {
				over(indexed(path+".ports", j), "Spark's port "+quoted(sp.name)+" takes its name or number")
			}
		}
	}
	for _, r := range []struct {
		list corev1.ResourceList
		name corev1.ResourceName
		path string
		why  string
	}{
		{c.Resources.Requests, corev1.ResourceCPU, ".resources.requests.cpu", "Spark sets it from spec." + role + ".coreRequest or cores"},
		{c.Resources.Requests, corev1.ResourceMemory, ".resources.requests.memory", "Spark sets it from spec." + role + ".memory and memoryOverhead"},
		{c.Resources.Limits, corev1.ResourceMemory, ".resources.limits.memory", "Spark sets it from spec." + role + ".memory and memoryOverhead (spec." + role + ".memoryLimit raises it)"},
		{c.Resources.Limits, corev1.ResourceCPU, ".resources.limits.cpu", "spec." + role + ".coreLimit sets it"},
	} {
		if r.name == corev1.ResourceCPU && r.path == ".resources.limits.cpu" && pod.CoreLimit == nil {
			continue // Spark keeps the template's cpu limit when there is no coreLimit
		}
		if _, ok := r.list[r.name]; ok {
			over(path+r.path, r.why)
		}
	}
}

// templateContainers are a role's template's containers and init
// containers, with their paths, for the volume check.
func templateContainers(base string, pod *v1alpha1.SparkPodSpec) map[string]corev1.Container {
	out := map[string]corev1.Container{}
	if pod.Template == nil {
		return out
	}
	for i, c := range pod.Template.Spec.Containers {
		out[indexed(base+".template.spec.containers", i)] = c
	}
	for i, c := range pod.Template.Spec.InitContainers {
		out[indexed(base+".template.spec.initContainers", i)] = c
	}
	return out
}
