package materialize

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/sparkconf"
	"github.com/sparkcd/sparkcd/render/yamldoc"
	"github.com/sparkcd/sparkcd/runid"
)

// Paths, file names, keys and names Spark itself uses for what spark-submit
// creates (Spark's Constants.scala), so a driver started by sparkcd looks
// like one started by spark-submit.
const (
	// DefaultMasterURL is spark.master inside the cluster.
	DefaultMasterURL = "k8s://https://kubernetes.default.svc:443"

	sparkConfDir           = "/opt/spark/conf"
	sparkPropertiesFile    = "spark.properties"
	sparkPropertiesPath    = sparkConfDir + "/" + sparkPropertiesFile
	log4j2File             = "log4j2.properties"
	podTemplateDir         = "/opt/spark/pod-template"
	podTemplateFile        = "pod-spec-template.yml"
	podTemplatePath        = podTemplateDir + "/" + podTemplateFile
	podTemplateKey         = "podspec-configmap-key"
	confVolumeName         = "spark-conf-volume-driver"
	podTemplateVolumeName  = "pod-template-volume"
	driverContainerName    = "spark-kubernetes-driver"
	executorContainerName  = "spark-kubernetes-executor"
	driverPortName         = "driver-rpc-port"
	blockManagerPortName   = "blockmanager"
	uiPortName             = "spark-ui"
	sparkConfigMapDir      = "/etc/spark/conf"
	sparkConfigMapVolume   = "spark-configmap-volume"
	hadoopConfigMapDir     = "/etc/hadoop/conf"
	hadoopConfigMapVolume  = "hadoop-configmap-volume"
	localDirVolumePrefix   = "spark-local-dir-"
	defaultSparkUser       = "spark"
	defaultImagePullPolicy = "IfNotPresent"
	defaultPythonMajor     = "3"
)

// Options are the per-call settings of Materialize.
type Options struct {
	// MasterURL is spark.master; default DefaultMasterURL.
	MasterURL string
	// IngressURLFormat, like the Spark Operator's --ingress-url-format,
	// gives every run whose job sets neither sparkUIOptions.ingressHost nor
	// ingressURLFormat a UI Ingress at this host[/path], with {{$appName}},
	// {{$appNamespace}} and {{$appId}} filled in.
	IngressURLFormat string
}

// DefaultOptions returns the options for a driver in the cluster
// sparkcd runs in.
func DefaultOptions() Options {
	return Options{MasterURL: DefaultMasterURL}
}

var appIDPattern = regexp.MustCompile(`^spark-[0-9a-f]{32}$`)

// materializer holds what every object of one run is built from.
type materializer struct {
	job   *v1alpha1.SparkJob
	id    runid.Identity
	opts  Options
	props map[string]string

	podName, serviceName, configMapName string
	uiPort                              int32
}

// Materialize turns one job and a run identity into the objects
// spark-submit would have created in cluster mode: the driver Pod, the
// ConfigMap (spark.properties, the executor pod template, log4j2.properties),
// the headless driver Service and, when sparkUIOptions.ingressHost is set,
// the UI Ingress. The same inputs always give byte-identical objects. The
// dependents carry no ownerReference yet: see SetDriverOwner.
func Materialize(job *v1alpha1.SparkJob, id runid.Identity, opts Options) (*Objects, error) {
	if err := checkRun(job, id); err != nil {
		return nil, err
	}
	if opts.MasterURL == "" {
		opts.MasterURL = DefaultMasterURL
	}
	j := job.DeepCopy()
	v1alpha1.SetDefaults(j)
	if err := applyMonitoring(j); err != nil {
		return nil, err
	}
	props, err := sparkconf.JobProperties(j)
	if err != nil {
		return nil, fmt.Errorf("unable to map job '%s' to Spark properties: %w", j.Name, err)
	}
	m := &materializer{
		job:           j,
		id:            id,
		opts:          opts,
		props:         props,
		podName:       runid.DriverPodName(id.Name),
		serviceName:   runid.ServiceName(id.Name, id.AppID),
		configMapName: runid.ConfigMapName(id.Name),
	}
	if m.uiPort, err = m.intProperty(sparkconf.KeyUIPort, sparkconf.DefaultUIPort); err != nil {
		return nil, err
	}
	m.addRunProperties()
	if err := m.addURLProperties(); err != nil {
		return nil, err
	}

	template, err := m.executorTemplate()
	if err != nil {
		return nil, err
	}
	m.scheduleExecutors(template) // materialize_scheduler.go
	if err := m.monitorPod(template, monitoringExposed(&j.Spec, false)); err != nil {
		return nil, err
	}
	templateYAML, err := templateYAML(template)
	if err != nil {
		return nil, fmt.Errorf("unable to write the executor pod template of run '%s': %w", id.Name, err)
	}
	pod, err := m.driverPod()
	if err != nil {
		return nil, err
	}
	if err := m.monitorPod(pod, monitoringExposed(&j.Spec, true)); err != nil {
		return nil, err
	}
	executor, err := m.executorPod(template)
	if err != nil {
		return nil, err
	}
	podGroup, err := m.scheduleDriver(pod, executor)
	if err != nil {
		return nil, err
	}
	svc, err := m.service()
	if err != nil {
		return nil, fmt.Errorf("unable to build the driver service of run '%s': %w", id.Name, err)
	}
	objs := &Objects{
		Pod:       pod,
		ConfigMap: m.configMap(templateYAML),
		Service:   svc,
		Executor:  executor,
		PodGroup:  podGroup,
	}
	if err := m.expose(objs); err != nil {
		return nil, err
	}
	return objs, nil
}

// checkRun refuses a job and run identity no run can be made of.
func checkRun(job *v1alpha1.SparkJob, id runid.Identity) error {
	switch {
	case job == nil:
		return errors.New("no job to materialize")
	case job.Namespace == "":
		return fmt.Errorf("job '%s' has no namespace: spark.driver.host needs one", job.Name)
	case id.Name == "" || len(id.Name) > runid.MaxRunNameLength:
		return fmt.Errorf("run name '%s' must be 1 to %d characters", id.Name, runid.MaxRunNameLength)
	case !appIDPattern.MatchString(id.AppID):
		return fmt.Errorf("run '%s' has app id '%s': expected 'spark-' and 32 lowercase hex characters", id.Name, id.AppID)
	}
	return nil
}

// templateYAML writes the executor pod template as YAML with sorted keys and
// without the empty status a typed Pod always marshals.
func templateYAML(pod *corev1.Pod) (string, error) {
	b, err := json.Marshal(pod)
	if err != nil {
		return "", err
	}
	doc, err := yamldoc.Decode(b)
	if err != nil {
		return "", err
	}
	if m, ok := doc.(map[string]any); ok {
		delete(m, "status")
	}
	out, err := yamldoc.Encode(doc)
	return string(out), err
}

// SetDriverOwner makes the driver pod the controller owner of the run's
// other objects, so deleting the driver lets the garbage collector delete
// them. Call it once the pod is created and has a UID.
func SetDriverOwner(objs *Objects, pod *corev1.Pod) {
	if objs == nil || pod == nil {
		return
	}
	yes := true
	ref := metav1.OwnerReference{
		APIVersion:         "v1",
		Kind:               "Pod",
		Name:               pod.Name,
		UID:                pod.UID,
		Controller:         &yes,
		BlockOwnerDeletion: &yes,
	}
	for _, obj := range objs.Dependents() {
		obj.SetOwnerReferences([]metav1.OwnerReference{ref})
	}
}

// runLabels are the labels every object of the run carries.
// A job's shard label goes onto them too, so that a shard's pod cache
// holds its own jobs' pods only (docs/scaling.md).
func (m *materializer) runLabels() map[string]string {
	l := map[string]string{
		v1alpha1.LabelSparkAppSelector: m.id.AppID,
		v1alpha1.LabelManagedBy:        v1alpha1.ManagedByValue,
		v1alpha1.LabelJob:              m.job.Name,
		v1alpha1.LabelRun:              m.id.Name,
	}
	if shard, ok := m.job.Labels[v1alpha1.LabelShard]; ok {
		l[v1alpha1.LabelShard] = shard
	}
	return l
}

// runAnnotations say where the run came from.
func (m *materializer) runAnnotations() map[string]string {
	a := map[string]string{v1alpha1.AnnotationSpecHash: m.id.SpecHash}
	if m.id.Revision != "" {
		a[v1alpha1.AnnotationRevision] = m.id.Revision
	}
	if m.id.Trigger != "" {
		a[v1alpha1.AnnotationTrigger] = string(m.id.Trigger)
	}
	if m.id.SpecHash == "" {
		delete(a, v1alpha1.AnnotationSpecHash)
	}
	return a
}

func (m *materializer) configMap(template string) *corev1.ConfigMap {
	immutable := true
	data := map[string]string{
		sparkPropertiesFile: encodeProperties(m.props, fmt.Sprintf("spark.properties of run %s, written by sparkcd", m.id.Name)),
		podTemplateKey:      template,
	}
	if l := log4j2Properties(m.job.Spec.LogLevel); l != "" {
		data[log4j2File] = l
	}
	for k, v := range monitoringData(&m.job.Spec) {
		data[k] = v
	}
	return &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        m.configMapName,
			Namespace:   m.job.Namespace,
			Labels:      m.runLabels(),
			Annotations: m.runAnnotations(),
		},
		Immutable: &immutable,
		Data:      data,
	}
}
