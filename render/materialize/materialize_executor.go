package materialize

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

// executorTemplate is the executor pod template the driver reads from
// spark.kubernetes.executor.podTemplateFile: spec.executor.template, when
// there is one, with the executors' own placement, environment, mounts,
// ports, GPU and labels over it; Spark keeps all of it and adds
// what it owns: the name, image, command, resources, its labels
// (spark-app-selector, spark-role, spark-exec-id), the conf volume, the
// ownerReference to the driver, and the settings still given as properties
// (image pull secrets, spark.kubernetes.executor.* keys).
func (m *materializer) executorTemplate() (*corev1.Pod, error) {
	spec := &m.job.Spec
	e := &spec.Executor.SparkPodSpec
	tpl := splitTemplate(e.Template, executorContainerName)
	pm := roleMounts(spec, e)
	c := tpl.spark
	c.VolumeMounts = mergeMounts(c.VolumeMounts, pm.mounts)
	c.Ports = mergePorts(c.Ports, rolePorts(e))
	c.Resources = overlayResources(c.Resources, corev1.ResourceRequirements{Limits: roleLimits(e, false)})
	applyContainer(&c, e)
	c.Env = overlayEnv(c.Env, mergeEnv(nil, pm.env, e.Env))

	ps := tpl.spec
	ps.Containers = append(append([]corev1.Container{c}, tpl.others...), sidecars(e)...)
	applyPlacement(&ps, spec, e, nil)
	ps.Volumes = mergeVolumes(ps.Volumes, pm.volumes, referencedVolumes(spec, ps.InitContainers, ps.Containers))
	m.addLocalDirVolumes(&ps)
	ps.Volumes = withoutConfVolumes(ps.Volumes, m.props, v1alpha1.RoleExecutor) // materialize_confmounts.go
	hostNetworkDNS(&ps)

	labels := mergeMaps(
		tpl.labels,
		runid.PropagatedLabels(m.job.Labels),
		e.Labels,
		m.runLabels(),
		map[string]string{
			v1alpha1.LabelSparkRole:       v1alpha1.RoleExecutor,
			v1alpha1.LabelSparkAppName:    appNameLabel(m.job.Name),
			v1alpha1.LabelOperatorAppName: m.job.Name,
		},
	)
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Labels:      labels,
			Annotations: mergeMaps(tpl.annotations, e.Annotations, m.runAnnotations()),
		},
		Spec: ps,
	}, nil
}
