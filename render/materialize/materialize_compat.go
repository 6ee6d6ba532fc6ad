package materialize

import (
	"cmp"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/sparkcd/sparkcd/render/sparkconf"
	"github.com/sparkcd/sparkcd/runid"
)

// What Spark's feature steps add that depends on the Spark version or on
// less common configuration keys. Each function names the step it follows;
// docs/spark-compatibility.md lists what sparkcd does differently and why.

// Keys and names of Spark's Kubernetes backend (Config.scala, Constants.scala)
// that only this file reads.
const (
	labelSparkVersion = "spark-version"

	keyPySparkPython       = "spark.pyspark.python"
	keyPySparkDriverPython = "spark.pyspark.driver.python"
	envPySparkPython       = "PYSPARK_PYTHON"
	envPySparkDriverPython = "PYSPARK_DRIVER_PYTHON"

	keyServiceIPFamilyPolicy     = "spark.kubernetes.driver.service.ipFamilyPolicy"
	keyServiceIPFamilies         = "spark.kubernetes.driver.service.ipFamilies"
	defaultServiceIPFamilyPolicy = "SingleStack"
	defaultServiceIPFamilies     = "IPv4"

	keyHadoopConfigMapName         = "spark.kubernetes.hadoop.configMapName"
	keyExecutorHadoopConfigMapName = "spark.kubernetes.executor.hadoopConfigMapName"
	hadoopPropertiesVolume         = "hadoop-properties"
	hadoopPropertiesDir            = "/opt/hadoop/conf"

	driverResourcePrefix = "spark.driver.resource."

	// confFileMode is the mode Spark gives each file of the conf volume
	// (KubernetesClientUtils.buildKeyToPathObjects): 0644.
	confFileMode int32 = 0o644
)

// appNameLabel is the spark-app-name label value Spark derives from
// spark.app.name (KubernetesConf.getAppNameLabel): lowercase, every
// character but [a-z0-9-] a dash, runs of dashes folded, at most 63
// characters, no dash at either end.
func appNameLabel(appName string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(appName) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	s := b.String()
	if len(s) > runid.MaxDNSLabelLength {
		s = s[:runid.MaxDNSLabelLength]
	}
	return strings.Trim(s, "-")
}

// versionLabels is the spark-version label Spark 3.3 and later put on the
// driver (SPARK-37339). The driver's own Spark sets it to the version it
// runs; sparkcd knows only spec.sparkVersion, so the label is that value,
// and absent when the field is unset or no valid label value.
func (m *materializer) versionLabels() map[string]string {
	v := strings.TrimSpace(m.job.Spec.SparkVersion)
	if v == "" || !sparkconf.AtLeast(v, 3, 3) || len(validation.IsValidLabelValue(v)) > 0 {
		return nil
	}
	return map[string]string{labelSparkVersion: v}
}

// pythonEnv is what DriverCommandFeatureStep sets for a Python driver. Since
// Spark 3.1 it is PYSPARK_PYTHON (spark.pyspark.python) and
// PYSPARK_DRIVER_PYTHON (spark.pyspark.driver.python, else
// spark.pyspark.python), each only when configured;
// spark.kubernetes.pyspark.pythonVersion is deprecated and sets nothing.
// Before 3.1 it was PYSPARK_MAJOR_PYTHON_VERSION from that key. Spark also
// falls back to the submitting shell's variables, which sparkcd does not have.
func (m *materializer) pythonEnv() []corev1.EnvVar {
	if !sparkconf.AtLeast(m.job.Spec.SparkVersion, 3, 1) {
		major := m.props[sparkconf.KeyPythonVersion]
		if major == "" {
			major = defaultPythonMajor
		}
		return []corev1.EnvVar{{Name: envPythonMajor, Value: major}}
	}
	var env []corev1.EnvVar
	python := strings.TrimSpace(m.props[keyPySparkPython])
	if python != "" {
		env = append(env, corev1.EnvVar{Name: envPySparkPython, Value: python})
	}
	if driver := cmp.Or(strings.TrimSpace(m.props[keyPySparkDriverPython]), python); driver != "" {
		env = append(env, corev1.EnvVar{Name: envPySparkDriverPython, Value: driver})
	}
	return env
}

// driverResourceLimits are the custom resources of
// spark.driver.resource.<name>.amount with .vendor, which
// BasicDriverFeatureStep adds to the container's limits as
// "<vendor>/<name>" (KubernetesUtils.buildResourcesQuantities). As in Spark,
// a resource without an amount or a vendor is an error.
func (m *materializer) driverResourceLimits() (corev1.ResourceList, error) {
	names := map[string]bool{}
	for k := range m.props {
		if rest, ok := strings.CutPrefix(k, driverResourcePrefix); ok {
			if name, _, ok := strings.Cut(rest, "."); ok && name != "" {
				names[name] = true
			}
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	out := corev1.ResourceList{}
	for _, name := range sorted {
		prefix := driverResourcePrefix + name + "."
		amount, ok := m.props[prefix+"amount"]
		if !ok {
			return nil, confErrorf(prefix+"amount", "job '%s' requests driver resource '%s' without '%samount'", m.job.Name, name, prefix)
		}
		n, err := strconv.ParseInt(strings.TrimSpace(amount), 10, 64)
		if err != nil || n < 0 {
			return nil, confErrorf(prefix+"amount", "'%samount' must be a whole number, found '%s'", prefix, amount)
		}
		vendor := strings.TrimSpace(m.props[prefix+"vendor"])
		if vendor == "" {
			return nil, confErrorf(prefix+"vendor", "job '%s' requests driver resource '%s' without '%svendor': Kubernetes needs the device plugin's domain, such as 'nvidia.com'", m.job.Name, name, prefix)
		}
		key := corev1.ResourceName(vendor + "/" + name)
		if errs := validation.IsQualifiedName(string(key)); len(errs) > 0 {
			return nil, confErrorf(prefix+"vendor", "driver resource '%s' of vendor '%s' is no resource name: %s", name, vendor, strings.Join(errs, "; "))
		}
		if n > 0 {
			out[key] = *resource.NewQuantity(n, resource.DecimalSI)
		}
	}
	return out, nil
}

// serviceIPFamilies are the driver service's ipFamilyPolicy and ipFamilies,
// which Spark 3.4 and later always set (DriverServiceFeatureStep), from
// spark.kubernetes.driver.service.ipFamilyPolicy (SingleStack) and
// .ipFamilies (IPv4). Older versions leave both to the API server.
func (m *materializer) serviceIPFamilies() (*corev1.IPFamilyPolicy, []corev1.IPFamily, error) {
	if !sparkconf.AtLeast(m.job.Spec.SparkVersion, 3, 4) {
		return nil, nil, nil
	}
	policy := cmp.Or(strings.TrimSpace(m.props[keyServiceIPFamilyPolicy]), defaultServiceIPFamilyPolicy)
	switch corev1.IPFamilyPolicy(policy) {
	case corev1.IPFamilyPolicySingleStack, corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack:
	default:
		return nil, nil, confErrorf(keyServiceIPFamilyPolicy, "'%s' must be SingleStack, PreferDualStack or RequireDualStack, found '%s'", keyServiceIPFamilyPolicy, policy)
	}
	list := cmp.Or(strings.TrimSpace(m.props[keyServiceIPFamilies]), defaultServiceIPFamilies)
	switch list {
	case "IPv4", "IPv6", "IPv4,IPv6", "IPv6,IPv4":
	default:
		return nil, nil, confErrorf(keyServiceIPFamilies, "'%s' must be IPv4, IPv6, IPv4,IPv6 or IPv6,IPv4, found '%s'", keyServiceIPFamilies, list)
	}
	var families []corev1.IPFamily
	for _, f := range strings.Split(list, ",") {
		families = append(families, corev1.IPFamily(f))
	}
	p := corev1.IPFamilyPolicy(policy)
	return &p, families, nil
}

// hadoopConfMapName is spark.kubernetes.hadoop.configMapName when
// spec.hadoopConfigMap does not already decide the Hadoop configuration.
func (m *materializer) hadoopConfMapName() string {
	if s := m.job.Spec.HadoopConfigMap; s != nil && *s != "" {
		return ""
	}
	return strings.TrimSpace(m.props[keyHadoopConfigMapName])
}

// hadoopConfMount is HadoopConfDriverFeatureStep for an existing ConfigMap
// named by spark.kubernetes.hadoop.configMapName: the ConfigMap as volume
// hadoop-properties at /opt/hadoop/conf and HADOOP_CONF_DIR pointing there.
// addRunProperties passes the name on to the executors as Spark does.
func (m *materializer) hadoopConfMount() podMounts {
	name := m.hadoopConfMapName()
	if name == "" {
		return podMounts{}
	}
	return podMounts{
		volumes: []corev1.Volume{{Name: hadoopPropertiesVolume, VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}}}},
		mounts: []corev1.VolumeMount{{Name: hadoopPropertiesVolume, MountPath: hadoopPropertiesDir}},
		env:    []corev1.EnvVar{{Name: envHadoopConfDir, Value: hadoopPropertiesDir}},
	}
}
