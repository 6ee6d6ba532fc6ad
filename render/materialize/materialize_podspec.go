package materialize

import (
	"path"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

// File names the Spark Operator gives typed secrets.
const (
	gcpKeyFile        = "key.json"
	hadoopTokenFile   = "hadoop.token"
	envGoogleCreds    = "GOOGLE_APPLICATION_CREDENTIALS"
	envHadoopToken    = "HADOOP_TOKEN_FILE_LOCATION"
	envHadoopConfDir  = "HADOOP_CONF_DIR"
	envSparkConfDir   = "SPARK_CONF_DIR"
	envSparkUser      = "SPARK_USER"
	envAppID          = "SPARK_APPLICATION_ID"
	envBindAddress    = "SPARK_DRIVER_BIND_ADDRESS"
	envPythonMajor    = "PYSPARK_MAJOR_PYTHON_VERSION"
	envSparkLocalDirs = "SPARK_LOCAL_DIRS"
)

// reservedEnv are the variables Spark's entrypoint and the driver depend
// on; a user entry of the same name is dropped.
var reservedEnv = map[string]bool{envAppID: true, envBindAddress: true, envSparkConfDir: true, envSparkLocalDirs: true}

// mergeMaps merges maps left to right: a later map wins.
func mergeMaps(maps ...map[string]string) map[string]string {
	var out map[string]string
	for _, m := range maps {
		for k, v := range m {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// sortedEnv turns a map into env vars sorted by name.
func sortedEnv(m map[string]string) []corev1.EnvVar {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]corev1.EnvVar, 0, len(names))
	for _, n := range names {
		out = append(out, corev1.EnvVar{Name: n, Value: m[n]})
	}
	return out
}

// mergeEnv appends extra to base: an entry of a name base already has
// replaces it in place, unless the name is reserved, then it is dropped.
func mergeEnv(base []corev1.EnvVar, extra ...[]corev1.EnvVar) []corev1.EnvVar {
	index := make(map[string]int, len(base))
	for i, e := range base {
		index[e.Name] = i
	}
	for _, list := range extra {
		for _, e := range list {
			i, seen := index[e.Name]
			switch {
			case seen && reservedEnv[e.Name]:
			case seen:
				base[i] = *e.DeepCopy()
			default:
				index[e.Name] = len(base)
				base = append(base, *e.DeepCopy())
			}
		}
	}
	return base
}

// volumeName names a mounted ConfigMap or Secret volume: "<name>-vol" as the
// Spark Operator does, or a hashed name when that is no DNS label.
func volumeName(kind, name string) string {
	v := name + "-vol"
	if len(v) <= runid.MaxDNSLabelLength && !strings.Contains(v, ".") {
		return v
	}
	return kind + "-" + runid.DigestOf(kind, name)[:16]
}

// podMounts are the volumes and mounts of one role's Spark container, apart
// from Spark's own.
type podMounts struct {
	volumes []corev1.Volume
	mounts  []corev1.VolumeMount
	env     []corev1.EnvVar
}

// roleMounts mounts the role's configMaps and secrets (setting the
// environment a typed secret implies, as the Spark Operator does), the
// job's sparkConfigMap and hadoopConfigMap (HADOOP_CONF_DIR), and the
// spec.volumes the role's containers mount.
func roleMounts(spec *v1alpha1.SparkJobSpec, pod *v1alpha1.SparkPodSpec) podMounts {
	var pm podMounts
	for _, cm := range pod.ConfigMaps {
		name := volumeName("cm", cm.Name)
		pm.volumes = append(pm.volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: cm.Name}}}})
		pm.mounts = append(pm.mounts, corev1.VolumeMount{Name: name, MountPath: cm.Path})
	}
	for _, s := range pod.Secrets {
		name := volumeName("secret", s.Name)
		pm.volumes = append(pm.volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: s.Name}}})
		pm.mounts = append(pm.mounts, corev1.VolumeMount{Name: name, MountPath: s.Path})
		switch s.Type {
		case v1alpha1.SecretTypeGCPServiceAccount:
			pm.env = append(pm.env, corev1.EnvVar{Name: envGoogleCreds, Value: path.Join(s.Path, gcpKeyFile)})
		case v1alpha1.SecretTypeHadoopDelegationToken:
			pm.env = append(pm.env, corev1.EnvVar{Name: envHadoopToken, Value: path.Join(s.Path, hadoopTokenFile)})
		}
	}
	if spec.SparkConfigMap != nil && *spec.SparkConfigMap != "" {
		pm.volumes = append(pm.volumes, corev1.Volume{Name: sparkConfigMapVolume, VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: *spec.SparkConfigMap}}}})
		pm.mounts = append(pm.mounts, corev1.VolumeMount{Name: sparkConfigMapVolume, MountPath: sparkConfigMapDir})
	}
	if spec.HadoopConfigMap != nil && *spec.HadoopConfigMap != "" {
		pm.volumes = append(pm.volumes, corev1.Volume{Name: hadoopConfigMapVolume, VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: *spec.HadoopConfigMap}}}})
		pm.mounts = append(pm.mounts, corev1.VolumeMount{Name: hadoopConfigMapVolume, MountPath: hadoopConfigMapDir})
		pm.env = append(pm.env, corev1.EnvVar{Name: envHadoopConfDir, Value: hadoopConfigMapDir})
	}
	for _, vm := range pod.VolumeMounts {
		pm.mounts = append(pm.mounts, *vm.DeepCopy())
	}
	return pm
}

// referencedVolumes are the spec.volumes some container of the pod mounts,
// in spec order: a volume no container mounts (a ReadWriteOnce claim meant
// for the driver, say) stays off the pod.
func referencedVolumes(spec *v1alpha1.SparkJobSpec, containers ...[]corev1.Container) []corev1.Volume {
	used := map[string]bool{}
	for _, list := range containers {
		for _, c := range list {
			for _, vm := range c.VolumeMounts {
				used[vm.Name] = true
			}
		}
	}
	var out []corev1.Volume
	for _, v := range spec.Volumes {
		if used[v.Name] {
			out = append(out, *v.DeepCopy())
		}
	}
	return out
}

// applyPlacement copies the role's pod-level settings onto a pod spec. The
// node selector merges spec.nodeSelector with the role's, the role winning
// per key, as Spark merges spark.kubernetes.node.selector.* with
// spark.kubernetes.<role>.node.selector.*.
func applyPlacement(ps *corev1.PodSpec, spec *v1alpha1.SparkJobSpec, pod *v1alpha1.SparkPodSpec, confSelector map[string]string) {
	ps.NodeSelector = mergeMaps(ps.NodeSelector, confSelector, spec.NodeSelector, pod.NodeSelector)
	if pod.Affinity != nil {
		ps.Affinity = pod.Affinity.DeepCopy()
	}
	for _, t := range pod.Tolerations {
		ps.Tolerations = append(ps.Tolerations, *t.DeepCopy())
	}
	if pod.PriorityClassName != nil {
		ps.PriorityClassName = *pod.PriorityClassName
	}
	if pod.PodSecurityContext != nil {
		ps.SecurityContext = pod.PodSecurityContext.DeepCopy()
	}
	if pod.SchedulerName != nil {
		ps.SchedulerName = *pod.SchedulerName
	}
	if pod.HostNetwork != nil && *pod.HostNetwork {
		ps.HostNetwork = true
		ps.DNSPolicy = corev1.DNSClusterFirstWithHostNet
	}
	if pod.DNSConfig != nil {
		ps.DNSConfig = pod.DNSConfig.DeepCopy()
	}
	if pod.TerminationGracePeriodSeconds != nil {
		v := *pod.TerminationGracePeriodSeconds
		ps.TerminationGracePeriodSeconds = &v
	}
	for _, h := range pod.HostAliases {
		ps.HostAliases = append(ps.HostAliases, *h.DeepCopy())
	}
	if pod.ShareProcessNamespace != nil {
		v := *pod.ShareProcessNamespace
		ps.ShareProcessNamespace = &v
	}
	if pod.RuntimeClassName != nil {
		v := *pod.RuntimeClassName
		ps.RuntimeClassName = &v
	}
	if pod.ServiceAccount != nil {
		ps.ServiceAccountName = *pod.ServiceAccount
	}
	for _, c := range pod.InitContainers {
		ps.InitContainers = append(ps.InitContainers, *c.DeepCopy())
	}
}

// applyContainer copies the role's container-level settings onto the Spark
// container.
func applyContainer(c *corev1.Container, pod *v1alpha1.SparkPodSpec) {
	if pod.SecurityContext != nil {
		c.SecurityContext = pod.SecurityContext.DeepCopy()
	}
	if pod.Lifecycle != nil {
		c.Lifecycle = pod.Lifecycle.DeepCopy()
	}
	for _, e := range pod.EnvFrom {
		c.EnvFrom = append(c.EnvFrom, *e.DeepCopy())
	}
}

// sidecars returns deep copies of the role's sidecars.
func sidecars(pod *v1alpha1.SparkPodSpec) []corev1.Container {
	var out []corev1.Container
	for _, c := range pod.Sidecars {
		out = append(out, *c.DeepCopy())
	}
	return out
}

// AddedVolumeNames are the names of the volumes sparkcd adds to a role's pod
// on its own (configMaps, secrets, sparkConfigMap, hadoopConfigMap and, for
// the driver, its Spark configuration and executor pod template) and those
// of the role's pod template: a volumeMount may name them without declaring
// them in spec.volumes.
func AddedVolumeNames(spec *v1alpha1.SparkJobSpec, pod *v1alpha1.SparkPodSpec, driver bool) []string {
	var names []string
	for _, v := range roleMounts(spec, pod).volumes {
		names = append(names, v.Name)
	}
	if driver {
		names = append(names, confVolumeName, podTemplateVolumeName)
	}
	if pod.Template != nil {
		for _, v := range pod.Template.Spec.Volumes {
			names = append(names, v.Name)
		}
	}
	return append(names, roleConfVolumeNames(spec, driver)...) // materialize_confmounts.go
}
