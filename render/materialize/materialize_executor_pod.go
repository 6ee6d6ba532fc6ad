package materialize

import (
	"cmp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/sparkconf"
)

const (
	executorConfVolume  = "spark-conf-volume-exec"
	keyBlockManagerPort = "spark.blockManager.port"
)

// executorPod is an executor pod as the run's driver will create it from
// the executor pod template: the template with what Spark's executor steps
// (BasicExecutorFeatureStep and the conf-mount step) add to it — the name,
// the image and pull policy, the blockmanager port (unless
// spark.blockManager.port is 0), the executor conf ConfigMap at
// /opt/spark/conf, restartPolicy Never and the pull secrets. Resources and
// environment stay as the template has them: they decide nothing that Pod
// Security judges. sparkcd never creates this pod; admission judges it as
// the namespace's Pod Security admission will judge the executors.
func (m *materializer) executorPod(template *corev1.Pod) (*corev1.Pod, error) {
	pod := template.DeepCopy()
	pod.Name = cmp.Or(m.props[sparkconf.KeyExecutorPodNamePrefix], m.id.Name) + "-exec-1"
	pod.Namespace = m.job.Namespace
	ps := &pod.Spec
	ps.RestartPolicy = corev1.RestartPolicyNever
	ps.ImagePullSecrets = mergePullSecrets(ps.ImagePullSecrets, m.imagePullSecrets())
	if len(ps.Containers) == 0 {
		ps.Containers = []corev1.Container{{Name: executorContainerName}}
	}
	c := &ps.Containers[0]
	c.Image = cmp.Or(m.props[sparkconf.KeyExecutorContainerImage], m.props[sparkconf.KeyContainerImage])
	c.ImagePullPolicy = corev1.PullPolicy(cmp.Or(m.props[sparkconf.KeyImagePullPolicy], defaultImagePullPolicy))
	port := int64(sparkconf.DefaultBlockManagerPort)
	if s, ok := m.props[keyBlockManagerPort]; ok {
		if p, err := strconv.ParseInt(s, 10, 32); err == nil {
			port = p
		}
	}
	if port != 0 && !hasPortNamed(c.Ports, blockManagerPortName) {
		c.Ports = append(c.Ports, corev1.ContainerPort{Name: blockManagerPortName, ContainerPort: int32(port), Protocol: corev1.ProtocolTCP})
	}
	ps.Volumes = append(ps.Volumes, corev1.Volume{Name: executorConfVolume, VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: m.configMapName + "-exec"}}}})
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: executorConfVolume, MountPath: sparkConfDir})
	if err := m.executorConfMounts(pod); err != nil {
		return nil, err
	}
	return pod, nil
}

// executorConfMounts adds what the driver adds to executor 1 from the
// executors' sparkConf secret and volume keys (MountSecretsFeatureStep,
// MountVolumesFeatureStep): a hostPath there is a hostPath of every
// executor. An OnDemand claim is named as Spark names it.
func (m *materializer) executorConfMounts(pod *corev1.Pod) error {
	c := &pod.Spec.Containers[0]
	secrets, err := ConfSecretVolumes(m.props, v1alpha1.RoleExecutor)
	if err != nil {
		return err
	}
	for _, s := range secrets {
		pod.Spec.Volumes = append(pod.Spec.Volumes, s.Volume)
		c.VolumeMounts = append(c.VolumeMounts, s.Mount)
	}
	vols, err := ConfVolumes(m.props, v1alpha1.RoleExecutor)
	if err != nil {
		return err
	}
	for i, v := range vols {
		if pvc := v.Volume.PersistentVolumeClaim; pvc != nil {
			pvc.ClaimName = strings.ReplaceAll(pvc.ClaimName, pvcOnDemand, pod.Name+"-pvc-"+strconv.Itoa(i))
			pvc.ClaimName = strings.ReplaceAll(pvc.ClaimName, envExecutorID, "1")
		}
		pod.Spec.Volumes = append(pod.Spec.Volumes, v.Volume)
		c.VolumeMounts = append(c.VolumeMounts, v.Mount)
	}
	return nil
}

func hasPortNamed(ports []corev1.ContainerPort, name string) bool {
	for _, p := range ports {
		if p.Name == name {
			return true
		}
	}
	return false
}
