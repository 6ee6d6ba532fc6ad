package materialize

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/sparkconf"
	"github.com/sparkcd/sparkcd/runid"
)

// Main classes spark-submit passes for non-JVM applications.
const (
	pythonRunner = "org.apache.spark.deploy.PythonRunner"
	rRunner      = "org.apache.spark.deploy.RRunner"
)

// driverPod builds the driver pod as Spark's driver feature steps do,
// starting from spec.driver.template when there is one.
func (m *materializer) driverPod() (*corev1.Pod, error) {
	spec := &m.job.Spec
	d := &spec.Driver.SparkPodSpec
	tpl := splitTemplate(d.Template, driverContainerName)
	pm := roleMounts(spec, d)
	hadoop := m.hadoopConfMount()
	conf, err := m.driverConfMounts() // sparkConf secrets and volumes: materialize_confmounts.go
	if err != nil {
		return nil, err
	}
	pm.mounts, pm.env = append(pm.mounts, conf.mounts...), append(pm.env, conf.env...)
	c, localVolumes, err := m.driverContainer(tpl.spark, pm, hadoop)
	if err != nil {
		return nil, err
	}

	ps := tpl.spec
	ps.RestartPolicy = corev1.RestartPolicyNever
	ps.Containers = append(append([]corev1.Container{c}, tpl.others...), sidecars(d)...)
	ps.ImagePullSecrets = mergePullSecrets(ps.ImagePullSecrets, m.imagePullSecrets())
	// Spark's settings win over the template's, the typed fields (which
	// the Operator's webhook applies last) over both.
	ps.ServiceAccountName = cmp.Or(m.props[sparkconf.KeyDriverServiceAccount], ps.ServiceAccountName)
	ps.SchedulerName = cmp.Or(m.props["spark.kubernetes.driver.scheduler.name"], m.props["spark.kubernetes.scheduler.name"], ps.SchedulerName)
	applyPlacement(&ps, spec, d, mergeMaps(m.prefixed("spark.kubernetes.node.selector."), m.prefixed("spark.kubernetes.driver.node.selector.")))
	own := append(append([]corev1.Volume{m.confVolume(), m.podTemplateVolume()}, pm.volumes...), hadoop.volumes...)
	ps.Volumes = mergeVolumes(ps.Volumes, own, referencedVolumes(spec, ps.InitContainers, ps.Containers), localVolumes, conf.volumes)
	m.addLocalDirVolumes(&ps)
	hostNetworkDNS(&ps)

	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: m.driverObjectMeta(d, tpl),
		Spec:       ps,
	}, nil
}

// driverContainer builds the Spark container of the driver over the
// template's: Spark's image, arguments, ports, resources, mounts and
// environment win, the typed fields after them.
func (m *materializer) driverContainer(c corev1.Container, pm, hadoop podMounts) (corev1.Container, []corev1.Volume, error) {
	d := &m.job.Spec.Driver.SparkPodSpec
	res, err := sparkconf.DriverResources(m.job)
	if err != nil {
		return c, nil, fmt.Errorf("unable to size the driver of job '%s': %w", m.job.Name, err)
	}
	args, err := m.driverArgs()
	if err != nil {
		return c, nil, err
	}
	image, pullPolicy, err := m.driverImage()
	if err != nil {
		return c, nil, err
	}
	extraLimits, err := m.driverResourceLimits()
	if err != nil {
		return c, nil, err
	}
	c.Image, c.ImagePullPolicy, c.Args = image, pullPolicy, args
	c.Ports = mergePorts(c.Ports, []corev1.ContainerPort{
		{Name: driverPortName, ContainerPort: sparkconf.DefaultDriverPort, Protocol: corev1.ProtocolTCP},
		{Name: blockManagerPortName, ContainerPort: sparkconf.DefaultBlockManagerPort, Protocol: corev1.ProtocolTCP},
		{Name: uiPortName, ContainerPort: m.uiPort, Protocol: corev1.ProtocolTCP},
	}, rolePorts(d))
	c.Resources = overlayResources(c.Resources, podResources(res, extraLimits))
	c.Resources = overlayResources(c.Resources, corev1.ResourceRequirements{Limits: roleLimits(d, true)})
	c.VolumeMounts = mergeMounts(c.VolumeMounts, []corev1.VolumeMount{
		{Name: confVolumeName, MountPath: sparkConfDir},
		{Name: podTemplateVolumeName, MountPath: podTemplateDir},
	}, pm.mounts, hadoop.mounts)
	applyContainer(&c, d)
	localVolumes, localEnv := m.localDirs(&c)
	env := mergeEnv(m.driverSystemEnv(), localEnv, pm.env, hadoop.env, sortedEnv(m.prefixed("spark.kubernetes.driverEnv.")), d.Env)
	c.Env = overlayEnv(c.Env, env)
	return c, localVolumes, nil
}

// driverImage is the driver's image and pull policy: the driver's own
// image, else the job's; an image is required.
func (m *materializer) driverImage() (string, corev1.PullPolicy, error) {
	image := cmp.Or(m.props[sparkconf.KeyDriverContainerImage], m.props[sparkconf.KeyContainerImage])
	if image == "" {
		return "", "", fmt.Errorf("job '%s' has no image: set spec.image", m.job.Name)
	}
	pullPolicy := cmp.Or(m.props[sparkconf.KeyImagePullPolicy], defaultImagePullPolicy)
	return image, corev1.PullPolicy(pullPolicy), nil
}

// driverSystemEnv is the environment Spark's driver steps set before the
// user's: user, app ID, bind address, conf dir and, for Python, its own.
func (m *materializer) driverSystemEnv() []corev1.EnvVar {
	// SPARK_CONF_DIR is where spark-submit (and the entrypoint's classpath)
	// finds spark-env.sh and log4j2.properties. spec.sparkConfigMap moves it
	// to that ConfigMap's mount, as the Spark Operator does; spark.properties
	// is still read from /opt/spark/conf through --properties-file, and the
	// driver builds the executors' conf ConfigMap from this directory.
	spec := &m.job.Spec
	confDir := sparkConfDir
	if spec.SparkConfigMap != nil && *spec.SparkConfigMap != "" {
		confDir = sparkConfigMapDir
	}
	env := []corev1.EnvVar{
		{Name: envSparkUser, Value: defaultSparkUser},
		{Name: envAppID, Value: m.id.AppID},
		{Name: envBindAddress, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.podIP"}}},
		{Name: envSparkConfDir, Value: confDir},
	}
	if spec.Type == v1alpha1.PythonApplication {
		env = append(env, m.pythonEnv()...)
	}
	return env
}

// driverObjectMeta names the driver pod and gives it its labels (the
// job's propagated ones, the conf's, the spec's, then sparkcd's and
// Spark's own, which win) and annotations, {{APP_ID}} expanded.
func (m *materializer) driverObjectMeta(d *v1alpha1.SparkPodSpec, tpl podTemplate) metav1.ObjectMeta {
	labels := mergeMaps(
		tpl.labels,
		runid.PropagatedLabels(m.job.Labels),
		m.prefixed("spark.kubernetes.driver.label."),
		d.Labels,
		m.runLabels(),
		m.versionLabels(),
		map[string]string{
			v1alpha1.LabelSparkRole:       v1alpha1.RoleDriver,
			v1alpha1.LabelSparkAppName:    appNameLabel(m.job.Name),
			v1alpha1.LabelOperatorAppName: m.job.Name,
		},
	)
	annotations := mergeMaps(tpl.annotations, m.prefixed("spark.kubernetes.driver.annotation."), d.Annotations)
	for k, v := range annotations {
		annotations[k] = strings.NewReplacer("{{APP_ID}}", m.id.AppID, "{{EXECUTOR_ID}}", "").Replace(v)
	}
	return metav1.ObjectMeta{
		Name:        m.podName,
		Namespace:   m.job.Namespace,
		Labels:      labels,
		Annotations: mergeMaps(annotations, m.runAnnotations()),
	}
}

// driverArgs is what DriverCommandFeatureStep passes to the image's
// entrypoint.
func (m *materializer) driverArgs() ([]string, error) {
	spec := &m.job.Spec
	if spec.MainApplicationFile == nil || *spec.MainApplicationFile == "" {
		return nil, fmt.Errorf("job '%s' has no mainApplicationFile", m.job.Name)
	}
	var class string
	switch spec.Type {
	case v1alpha1.PythonApplication:
		class = pythonRunner
	case v1alpha1.RApplication:
		class = rRunner
	default:
		if spec.MainClass == nil || *spec.MainClass == "" {
			return nil, fmt.Errorf("%s job '%s' has no mainClass", spec.Type, m.job.Name)
		}
		class = *spec.MainClass
	}
	args := []string{"driver"}
	if spec.ProxyUser != nil && *spec.ProxyUser != "" {
		args = append(args, "--proxy-user", *spec.ProxyUser)
	}
	args = append(args, "--properties-file", sparkPropertiesPath, "--class", class, *spec.MainApplicationFile)
	return append(args, spec.Arguments...), nil
}

// localDirs mirrors Spark's LocalDirsFeatureStep for the driver: volume
// mounts named spark-local-dir-* are the local dirs; without them, each
// spark.local.dir entry (default /var/data/spark-<uuid>, the uuid derived
// from the app id) gets a spark-local-dir-<n> volume — the spec.volumes entry
// of that name, else an emptyDir (in memory with
// spark.kubernetes.local.dirs.tmpfs).
func (m *materializer) localDirs(c *corev1.Container) ([]corev1.Volume, []corev1.EnvVar) {
	var dirs []string
	for _, vm := range c.VolumeMounts {
		if strings.HasPrefix(vm.Name, localDirVolumePrefix) {
			dirs = append(dirs, vm.MountPath)
		}
	}
	if len(dirs) > 0 {
		return nil, []corev1.EnvVar{{Name: envSparkLocalDirs, Value: strings.Join(dirs, ",")}}
	}
	for _, d := range strings.Split(m.props["spark.local.dir"], ",") {
		if d = strings.TrimSpace(d); d != "" {
			dirs = append(dirs, d)
		}
	}
	if len(dirs) == 0 {
		dirs = []string{"/var/data/spark-" + uuidFrom(m.id.AppID+"/local-dir")}
	}
	tmpfs := strings.EqualFold(strings.TrimSpace(m.props["spark.kubernetes.local.dirs.tmpfs"]), "true")
	var volumes []corev1.Volume
	for i, dir := range dirs {
		name := localDirVolumePrefix + strconv.Itoa(i+1)
		v := corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
		if tmpfs {
			v.EmptyDir.Medium = corev1.StorageMediumMemory
		}
		for _, sv := range m.job.Spec.Volumes {
			if sv.Name == name {
				v = *sv.DeepCopy()
			}
		}
		volumes = append(volumes, v)
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: dir})
	}
	return volumes, []corev1.EnvVar{{Name: envSparkLocalDirs, Value: strings.Join(dirs, ",")}}
}

// uuidFrom formats a hash of seed as a UUID, deterministic unlike Spark's
// random one.
func uuidFrom(seed string) string {
	h := runid.Digest([]byte(seed))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// confVolume mounts the run's spark.properties (and log4j2.properties) at
// /opt/spark/conf as Spark's submission client does: items sorted by key,
// each with mode 0644.
func (m *materializer) confVolume() corev1.Volume {
	mode := confFileMode
	var items []corev1.KeyToPath
	if m.job.Spec.LogLevel != "" {
		items = append(items, corev1.KeyToPath{Key: log4j2File, Path: log4j2File, Mode: &mode})
	}
	items = append(items, corev1.KeyToPath{Key: sparkPropertiesFile, Path: sparkPropertiesFile, Mode: &mode})
	return corev1.Volume{Name: confVolumeName, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: m.configMapName},
		Items:                items,
	}}}
}

func (m *materializer) podTemplateVolume() corev1.Volume {
	return corev1.Volume{Name: podTemplateVolumeName, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: m.configMapName},
		Items:                []corev1.KeyToPath{{Key: podTemplateKey, Path: podTemplateFile}},
	}}}
}

// imagePullSecrets reads spark.kubernetes.container.image.pullSecrets, as
// Spark adds them to the driver and the executors.
func (m *materializer) imagePullSecrets() []corev1.LocalObjectReference {
	var out []corev1.LocalObjectReference
	for _, s := range strings.Split(m.props[sparkconf.KeyImagePullSecrets], ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, corev1.LocalObjectReference{Name: s})
		}
	}
	return out
}

// podResources turns Spark's sizing into container resources: memory
// request = limit, cpu limit only when set, and the custom resources
// (GPUs) as limits only, as Spark adds them.
func podResources(r sparkconf.PodResources, extraLimits corev1.ResourceList) corev1.ResourceRequirements {
	mem := resource.MustParse(strconv.FormatInt(r.MemoryMiB, 10) + "Mi")
	req := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: r.CPURequest, corev1.ResourceMemory: mem},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: mem},
	}
	if r.CPULimit != nil {
		req.Limits[corev1.ResourceCPU] = *r.CPULimit
	}
	for k, v := range extraLimits {
		req.Limits[k] = v
	}
	return req
}
