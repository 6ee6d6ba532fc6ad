package materialize

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/sparkconf"
)

// A role's pod template is merged the way Spark merges
// spark.kubernetes.{driver,executor}.podTemplateFile
// (KubernetesUtils.loadPodFromTemplate, selectSparkContainer): the pod
// starts from the template, its Spark container is the one named as the
// Spark Operator names it in podTemplateContainerName
// (spark-kubernetes-driver, spark-kubernetes-executor), else the first
// container, and the other containers run beside it. Spark's feature steps
// then set what they own, and the Operator's webhook adds the typed fields
// after them, so both win over the template; lists are appended to the
// template's, an entry of the same name or path replacing the template's.

// LocalDirVolumePrefix starts the names of Spark's local-dir volumes: a
// mount of such a volume makes its path a Spark local dir, and sparkcd adds
// an emptyDir of that name when the pod declares none.
const LocalDirVolumePrefix = localDirVolumePrefix

// podTemplate is a role's template taken apart.
type podTemplate struct {
	spark               corev1.Container   // the Spark container, renamed to name
	others              []corev1.Container // the template's other containers
	spec                corev1.PodSpec     // the pod spec without containers
	labels, annotations map[string]string
}

// splitTemplate deep-copies a role's template (nil: an empty one) and
// selects its Spark container. The container is named name whatever the
// template calls it: sparkcd finds the driver's exit status by that name.
func splitTemplate(tpl *corev1.PodTemplateSpec, name string) podTemplate {
	var t podTemplate
	if tpl == nil {
		t.spark.Name = name
		return t
	}
	tpl = tpl.DeepCopy()
	t.labels, t.annotations = tpl.Labels, tpl.Annotations
	containers := tpl.Spec.Containers
	t.spec = tpl.Spec
	t.spec.Containers = nil
	i := SparkContainerIndex(containers, name)
	if i < 0 {
		t.spark.Name = name
		return t
	}
	t.spark = containers[i]
	t.spark.Name = name
	t.others = append(append([]corev1.Container(nil), containers[:i]...), containers[i+1:]...)
	return t
}

// SparkContainerIndex is the index of the Spark container among a
// template's containers: the one named name, else the first; -1 when there
// are none.
func SparkContainerIndex(containers []corev1.Container, name string) int {
	for i, c := range containers {
		if c.Name == name {
			return i
		}
	}
	if len(containers) == 0 {
		return -1
	}
	return 0
}

// overlayResources puts Spark's requests and limits over the template's:
// each resource Spark sets replaces the template's; the others (an
// ephemeral-storage request, a cpu limit when coreLimit is unset) stay, as
// Spark's addToRequests/addToLimits leave them.
func overlayResources(base, spark corev1.ResourceRequirements) corev1.ResourceRequirements {
	out := *base.DeepCopy()
	for _, l := range []struct {
		dst *corev1.ResourceList
		src corev1.ResourceList
	}{{&out.Requests, spark.Requests}, {&out.Limits, spark.Limits}} {
		for k, v := range l.src {
			if *l.dst == nil {
				*l.dst = corev1.ResourceList{}
			}
			(*l.dst)[k] = v.DeepCopy()
		}
	}
	return out
}

// roleLimits are the limits the Operator's webhook sets on the Spark
// container: memoryLimit (the driver's only, see sparkconf for the
// executors') and the GPU. Admission reports values that do not parse.
func roleLimits(pod *v1alpha1.SparkPodSpec, driver bool) corev1.ResourceList {
	out := corev1.ResourceList{}
	if driver && pod.MemoryLimit != nil {
		if q, err := sparkconf.ParseMemoryLimit(*pod.MemoryLimit); err == nil {
			out[corev1.ResourceMemory] = q
		}
	}
	if g := pod.GPU; g != nil && g.Name != "" && g.Quantity > 0 {
		out[corev1.ResourceName(g.Name)] = *resource.NewQuantity(g.Quantity, resource.DecimalSI)
	}
	return out
}

// rolePorts are the typed ports, TCP when no protocol is given.
func rolePorts(pod *v1alpha1.SparkPodSpec) []corev1.ContainerPort {
	var out []corev1.ContainerPort
	for _, p := range pod.Ports {
		proto := corev1.Protocol(strings.ToUpper(p.Protocol))
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		out = append(out, corev1.ContainerPort{Name: p.Name, ContainerPort: p.ContainerPort, Protocol: proto})
	}
	return out
}

// mergePorts appends ports; a later port of the same name, or of the same
// number and protocol, replaces the earlier one.
func mergePorts(lists ...[]corev1.ContainerPort) []corev1.ContainerPort {
	var out []corev1.ContainerPort
	for _, list := range lists {
		for _, p := range list {
			proto := p.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			out = removeFunc(out, func(q corev1.ContainerPort) bool {
				qp := q.Protocol
				if qp == "" {
					qp = corev1.ProtocolTCP
				}
				return (p.Name != "" && q.Name == p.Name) || (q.ContainerPort == p.ContainerPort && qp == proto)
			})
			out = append(out, p)
		}
	}
	return out
}

// mergeMounts appends volume mounts; a later mount at the same path
// replaces the earlier one.
func mergeMounts(lists ...[]corev1.VolumeMount) []corev1.VolumeMount {
	var out []corev1.VolumeMount
	for _, list := range lists {
		for _, m := range list {
			out = removeFunc(out, func(o corev1.VolumeMount) bool { return o.MountPath == m.MountPath })
			out = append(out, *m.DeepCopy())
		}
	}
	return out
}

// mergeVolumes appends volumes; a later volume of the same name replaces
// the earlier one.
func mergeVolumes(lists ...[]corev1.Volume) []corev1.Volume {
	var out []corev1.Volume
	for _, list := range lists {
		for _, v := range list {
			out = removeFunc(out, func(o corev1.Volume) bool { return o.Name == v.Name })
			out = append(out, *v.DeepCopy())
		}
	}
	return out
}

// overlayEnv puts the environment sparkcd computed over the template's:
// the template's variables come first, except those sparkcd sets itself.
func overlayEnv(template, env []corev1.EnvVar) []corev1.EnvVar {
	set := map[string]bool{}
	for _, e := range env {
		set[e.Name] = true
	}
	var out []corev1.EnvVar
	for _, e := range template {
		if !set[e.Name] {
			out = append(out, e)
		}
	}
	return append(out, env...)
}

// mergePullSecrets appends image pull secrets without repeating a name.
func mergePullSecrets(base, extra []corev1.LocalObjectReference) []corev1.LocalObjectReference {
	for _, s := range extra {
		base = removeFunc(base, func(o corev1.LocalObjectReference) bool { return o.Name == s.Name })
		base = append(base, s)
	}
	return base
}

func removeFunc[T any](list []T, drop func(T) bool) []T {
	out := list[:0]
	for _, x := range list {
		if !drop(x) {
			out = append(out, x)
		}
	}
	return out
}

// addLocalDirVolumes gives every mount of a spark-local-dir-<n> volume the
// pod does not declare an emptyDir of that name (in memory with
// spark.kubernetes.local.dirs.tmpfs), the volume Spark's LocalDirsFeatureStep
// would create: Spark treats such mounts as its local dirs.
func (m *materializer) addLocalDirVolumes(ps *corev1.PodSpec) {
	have := map[string]bool{}
	for _, v := range ps.Volumes {
		have[v.Name] = true
	}
	for _, list := range [][]corev1.Container{ps.InitContainers, ps.Containers} {
		for _, c := range list {
			for _, vm := range c.VolumeMounts {
				if !strings.HasPrefix(vm.Name, localDirVolumePrefix) || have[vm.Name] {
					continue
				}
				have[vm.Name] = true
				v := corev1.Volume{Name: vm.Name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
				if m.localDirsTmpfs() {
					v.EmptyDir.Medium = corev1.StorageMediumMemory
				}
				ps.Volumes = append(ps.Volumes, v)
			}
		}
	}
}

func (m *materializer) localDirsTmpfs() bool {
	return strings.EqualFold(strings.TrimSpace(m.props["spark.kubernetes.local.dirs.tmpfs"]), "true")
}

// hostNetworkDNS sets the DNS policy of a host-network pod to
// ClusterFirstWithHostNet, as the Operator's webhook does: with the default
// policy the driver could not resolve the API server's or its service's name.
func hostNetworkDNS(ps *corev1.PodSpec) {
	if ps.HostNetwork && ps.DNSPolicy == "" {
		ps.DNSPolicy = corev1.DNSClusterFirstWithHostNet
	}
}
