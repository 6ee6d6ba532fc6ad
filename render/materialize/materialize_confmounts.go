package materialize

import (
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// The sparkConf keys through which Spark mounts volumes and secrets into a
// role's pods (MountVolumesFeatureStep, MountSecretsFeatureStep,
// EnvSecretsFeatureStep). spark-submit applies the driver's keys to the
// driver pod, which sparkcd creates instead, so sparkcd applies them; the
// driver applies the executor's keys itself when it builds each executor
// pod, so those pass through spark.properties untouched.
const (
	confVolumesInfix    = ".volumes."
	confSecretsInfix    = ".secrets."
	confSecretRefsInfix = ".secretKeyRef."

	// pvcOnDemand in a claimName asks Spark to create the claim per pod.
	pvcOnDemand = "OnDemand"
	// envExecutorID in an executor's claimName is replaced by its id.
	envExecutorID = "SPARK_EXECUTOR_ID"
	// keyLegacyPVCAccessMode makes Spark's on-demand claims ReadWriteOnce
	// instead of ReadWriteOncePod.
	keyLegacyPVCAccessMode = "spark.kubernetes.legacy.useReadWriteOnceAccessMode"
)

// Volume types Spark reads from spark.kubernetes.<role>.volumes.<type>.<name>.*.
const (
	confVolumeHostPath = "hostPath"
	confVolumeEmptyDir = "emptyDir"
	confVolumePVC      = "persistentVolumeClaim"
	confVolumeNFS      = "nfs"
)

// confMounts are the volumes, mounts and environment the role's sparkConf
// keys add to its Spark container, in the order Spark's steps add them.
type confMounts struct {
	volumes []corev1.Volume
	mounts  []corev1.VolumeMount
	env     []corev1.EnvVar
}

// driverConfMounts reads the driver's sparkConf secret and volume keys as
// Spark's feature steps apply them before LocalDirsFeatureStep: a volume
// named spark-local-dir-* mounted this way is a local dir, and Spark then
// adds no emptyDir of its own. The mounts and the environment go before
// spec.driver's (whose variable of the same name wins, as the Operator's
// webhook adds it last); the volumes win over a spec.volumes entry of the
// same name that only their mount made the pod reference (a spec.driver
// mount of it would be a duplicate, which admission refuses).
func (m *materializer) driverConfMounts() (confMounts, error) {
	var out confMounts
	secrets, err := ConfSecretVolumes(m.props, v1alpha1.RoleDriver)
	if err != nil {
		return out, err
	}
	for _, s := range secrets {
		out.volumes = append(out.volumes, s.Volume)
		out.mounts = append(out.mounts, s.Mount)
	}
	if out.env, err = confSecretEnv(m.props, v1alpha1.RoleDriver); err != nil {
		return out, err
	}
	vols, err := ConfVolumes(m.props, v1alpha1.RoleDriver)
	if err != nil {
		return out, err
	}
	for _, v := range vols {
		vol := v.Volume
		if err := m.onDemandClaim(&vol, v); err != nil {
			return out, err
		}
		out.volumes = append(out.volumes, vol)
		out.mounts = append(out.mounts, v.Mount)
	}
	return out, nil
}

// onDemandClaim turns a driver claim named OnDemand into a generic
// ephemeral volume. spark-submit creates the claim
// "<prefix>-driver-pvc-<i>" after the driver pod, owned by it; sparkcd lets
// Kubernetes do the same (claim "<pod>-<volume>", owned by the pod, deleted
// with it), with the storage class, size, access mode and labels Spark
// gives it.
func (m *materializer) onDemandClaim(vol *corev1.Volume, v ConfVolume) error {
	pvc := vol.PersistentVolumeClaim
	if pvc != nil && strings.Contains(pvc.ClaimName, envExecutorID) {
		return confErrorf(v.Key("options.claimName"),
			"%s is '%s': the driver has no executor id, Spark leaves %s as it is, so the driver would wait for a claim nobody creates; use it in the executor's keys",
			v.Key("options.claimName"), pvc.ClaimName, envExecutorID)
	}
	if pvc == nil || !strings.Contains(pvc.ClaimName, pvcOnDemand) {
		return nil
	}
	if v.StorageClass == "" || v.SizeLimit == "" {
		return confErrorf(v.Key("options.claimName"),
			"%s is '%s' but %s or %s is unset: Spark creates the claim only when both are set, so the driver would wait for a claim nobody creates",
			v.Key("options.claimName"), pvc.ClaimName, v.Key("options.storageClass"), v.Key("options.sizeLimit"))
	}
	size, err := resource.ParseQuantity(v.SizeLimit)
	if err != nil {
		return confErrorf(v.Key("options.sizeLimit"), "%s is '%s': expected a quantity such as '100Gi'", v.Key("options.sizeLimit"), v.SizeLimit)
	}
	mode := corev1.ReadWriteOncePod
	if strings.EqualFold(strings.TrimSpace(m.props[keyLegacyPVCAccessMode]), "true") {
		mode = corev1.ReadWriteOnce
	}
	class := v.StorageClass
	labels := mergeMaps(v.Labels, map[string]string{v1alpha1.LabelSparkAppSelector: m.id.AppID})
	vol.VolumeSource = corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
		VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{
			ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: v.Annotations},
			Spec: corev1.PersistentVolumeClaimSpec{
				StorageClassName: &class,
				AccessModes:      []corev1.PersistentVolumeAccessMode{mode},
				Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
			},
		},
	}}
	return nil
}

// ConfVolume is one volume a role's spark.kubernetes.<role>.volumes.* keys
// declare, as Spark's KubernetesVolumeUtils parses it.
type ConfVolume struct {
	// Role is driver or executor; Type and Name are the key's segments.
	Role, Type, Name string
	// Volume and Mount are what MountVolumesFeatureStep adds.
	Volume corev1.Volume
	Mount  corev1.VolumeMount
	// StorageClass, SizeLimit, Labels and Annotations describe the claim
	// Spark creates for an OnDemand persistentVolumeClaim.
	StorageClass, SizeLimit string
	Labels, Annotations     map[string]string
}

// Key is the full sparkConf key of one of the volume's settings.
func (v ConfVolume) Key(setting string) string {
	return "spark.kubernetes." + v.Role + confVolumesInfix + v.Type + "." + v.Name + "." + setting
}

// ConfVolumes parses the role's volume keys of props, sorted by type and
// name. An error is a *ConfError naming the key at fault, with Spark's
// reason for refusing it.
func ConfVolumes(props map[string]string, role string) ([]ConfVolume, error) {
	prefix := "spark.kubernetes." + role + confVolumesInfix
	opts := map[[2]string]map[string]string{}
	for k, val := range props {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		parts := strings.SplitN(rest, ".", 3)
		if len(parts) < 3 || parts[0] == "" || parts[1] == "" {
			return nil, confErrorf(k, "%s is not a volume key: expected %s<type>.<name>.<setting>", k, prefix)
		}
		id := [2]string{parts[0], parts[1]}
		if opts[id] == nil {
			opts[id] = map[string]string{}
		}
		opts[id][parts[2]] = val
	}
	ids := make([][2]string, 0, len(opts))
	for id := range opts {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		return ids[i][0] < ids[j][0] || (ids[i][0] == ids[j][0] && ids[i][1] < ids[j][1])
	})
	var out []ConfVolume
	paths := map[string]string{}
	for _, id := range ids {
		v, err := parseConfVolume(role, id[0], id[1], opts[id])
		if err != nil {
			return nil, err
		}
		if other, dup := paths[v.Mount.MountPath]; dup {
			return nil, confErrorf(v.Key("mount.path"), "%s and %s both mount at '%s': Spark refuses a duplicated mountPath", v.Key("mount.path"), other, v.Mount.MountPath)
		}
		paths[v.Mount.MountPath] = v.Key("mount.path")
		out = append(out, v)
	}
	return out, nil
}

// parseConfVolume reads one volume's settings as Spark does.
func parseConfVolume(role, typ, name string, o map[string]string) (ConfVolume, error) {
	v := ConfVolume{Role: role, Type: typ, Name: name}
	need := func(setting string) (string, error) {
		val, ok := o[setting]
		if !ok {
			return "", confErrorf(v.Key(setting), "%s is required for a %s volume", v.Key(setting), typ)
		}
		return val, nil
	}
	path, err := need("mount.path")
	if err != nil {
		return v, err
	}
	_, hasSub := o["mount.subPath"]
	_, hasExpr := o["mount.subPathExpr"]
	if hasSub && hasExpr {
		return v, confErrorf(v.Key("mount.subPathExpr"), "%s and %s are mutually exclusive", v.Key("mount.subPath"), v.Key("mount.subPathExpr"))
	}
	readOnly, err := confBool(o, "mount.readOnly", v)
	if err != nil {
		return v, err
	}
	v.Mount = corev1.VolumeMount{Name: name, MountPath: path, ReadOnly: readOnly, SubPath: o["mount.subPath"], SubPathExpr: o["mount.subPathExpr"]}
	v.Labels, v.Annotations = subMap(o, "label."), subMap(o, "annotation.")
	v.Volume.Name = name
	switch typ {
	case confVolumeHostPath:
		p, err := need("options.path")
		if err != nil {
			return v, err
		}
		hp := &corev1.HostPathVolumeSource{Path: p}
		if t := o["options.type"]; t != "" {
			ht := corev1.HostPathType(t)
			hp.Type = &ht
		}
		v.Volume.HostPath = hp
	case confVolumePVC:
		claim, err := need("options.claimName")
		if err != nil {
			return v, err
		}
		if err := checkConfSize(o, v); err != nil {
			return v, err
		}
		v.StorageClass, v.SizeLimit = o["options.storageClass"], o["options.sizeLimit"]
		v.Volume.PersistentVolumeClaim = &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim, ReadOnly: readOnly}
	case confVolumeEmptyDir:
		if err := checkConfSize(o, v); err != nil {
			return v, err
		}
		ed := &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMedium(o["options.medium"])}
		if s := o["options.sizeLimit"]; s != "" {
			q, err := resource.ParseQuantity(s)
			if err != nil {
				return v, confErrorf(v.Key("options.sizeLimit"), "%s is '%s': expected a quantity such as '10Gi'", v.Key("options.sizeLimit"), s)
			}
			ed.SizeLimit = &q
		}
		v.Volume.EmptyDir = ed
	case confVolumeNFS:
		p, err := need("options.path")
		if err != nil {
			return v, err
		}
		server, err := need("options.server")
		if err != nil {
			return v, err
		}
		v.Volume.NFS = &corev1.NFSVolumeSource{Path: p, Server: server}
	default:
		return v, confErrorf(v.Key("mount.path"), "volume type '%s' of %s is not one sparkcd mounts: expected hostPath, emptyDir, persistentVolumeClaim or nfs", typ, v.Key("mount.path"))
	}
	return v, nil
}

// checkConfSize refuses a size below 1KiB written without a unit, as Spark does.
func checkConfSize(o map[string]string, v ConfVolume) error {
	s, ok := o["options.sizeLimit"]
	if !ok {
		return nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n < 1024 {
		return confErrorf(v.Key("options.sizeLimit"), "%s is '%s', smaller than 1KiB: missing a unit such as 'Gi'?", v.Key("options.sizeLimit"), s)
	}
	return nil
}

func confBool(o map[string]string, setting string, v ConfVolume) (bool, error) {
	s, ok := o[setting]
	if !ok {
		return false, nil
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, confErrorf(v.Key(setting), "%s is '%s': expected true or false", v.Key(setting), s)
}

// subMap returns the settings under a prefix, the prefix cut off.
func subMap(o map[string]string, prefix string) map[string]string {
	var out map[string]string
	for k, val := range o {
		if name, ok := strings.CutPrefix(k, prefix); ok && name != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[name] = val
		}
	}
	return out
}

// ConfSecret is one secret a role's spark.kubernetes.<role>.secrets.<name>
// key mounts: MountSecretsFeatureStep names its volume "<name>-volume".
type ConfSecret struct {
	Volume corev1.Volume
	Mount  corev1.VolumeMount
}

// ConfSecretVolumes parses the role's secret mount keys of props, sorted by
// secret name.
func ConfSecretVolumes(props map[string]string, role string) ([]ConfSecret, error) {
	prefix := "spark.kubernetes." + role + confSecretsInfix
	var out []ConfSecret
	for _, k := range sortedKeys(props) {
		name, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		path := strings.TrimSpace(props[k])
		if name == "" || path == "" {
			return nil, confErrorf(k, "%s must name a secret and give its mount path, such as %sssl-secrets=/etc/ssl", k, prefix)
		}
		vol := name + "-volume"
		out = append(out, ConfSecret{
			Volume: corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: name}}},
			Mount:  corev1.VolumeMount{Name: vol, MountPath: path},
		})
	}
	return out, nil
}

// confSecretEnv parses the role's secretKeyRef keys: each value is
// "<secret>:<key>", the variable's name is the key's last segment.
func confSecretEnv(props map[string]string, role string) ([]corev1.EnvVar, error) {
	prefix := "spark.kubernetes." + role + confSecretRefsInfix
	var out []corev1.EnvVar
	for _, k := range sortedKeys(props) {
		name, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		parts := strings.Split(props[k], ":")
		if name == "" || len(parts) != 2 || parts[0] == "" || parts[1] == "" {
			return nil, confErrorf(k, "%s is '%s': Spark requires a secret key reference in the form name:key", k, props[k])
		}
		out = append(out, corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: parts[0]}, Key: parts[1]}}})
	}
	return out, nil
}

// IsConfSecretKeyRef reports whether key is a spark.kubernetes.<role>.secretKeyRef.* key,
// whose value names a secret rather than holding one.
func IsConfSecretKeyRef(key string) bool {
	for _, role := range []string{v1alpha1.RoleDriver, v1alpha1.RoleExecutor} {
		if strings.HasPrefix(key, "spark.kubernetes."+role+confSecretRefsInfix) {
			return true
		}
	}
	return false
}

// confVolumeNames are the names of the volumes the role's sparkConf secret
// and volume keys add, for the check that every mount names a volume.
func confVolumeNames(conf map[string]string, role string) []string {
	keys := confVolumeKeys(conf, role)
	names := make([]string, 0, len(keys))
	for n := range keys {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// confVolumeKeys maps the name of each volume the role's sparkConf keys
// add to the first key (in sorted order) that declares it.
func confVolumeKeys(conf map[string]string, role string) map[string]string {
	out := map[string]string{}
	secretPrefix := "spark.kubernetes." + role + confSecretsInfix
	volumePrefix := "spark.kubernetes." + role + confVolumesInfix
	for _, k := range sortedKeys(conf) {
		name := ""
		if secret, ok := strings.CutPrefix(k, secretPrefix); ok && secret != "" {
			name = secret + "-volume"
		} else if rest, ok := strings.CutPrefix(k, volumePrefix); ok {
			if parts := strings.SplitN(rest, ".", 3); len(parts) == 3 {
				name = parts[1]
			}
		}
		if _, seen := out[name]; name != "" && !seen {
			out[name] = k
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// roleConfVolumeNames are the volumes the role's sparkConf keys add to its
// pods: the driver's by sparkcd, the executors' by Spark's driver.
func roleConfVolumeNames(spec *v1alpha1.SparkJobSpec, driver bool) []string {
	role := v1alpha1.RoleExecutor
	if driver {
		role = v1alpha1.RoleDriver
	}
	return confVolumeNames(spec.SparkConf, role)
}

// CheckConfMounts parses the role's sparkConf volume, secret and
// secretKeyRef keys as Spark does and returns the first error, a
// *ConfError naming the key, or nil. For the executors this is the error
// Spark's driver would meet when it builds the first executor pod.
func CheckConfMounts(conf map[string]string, role string) error {
	if _, err := ConfVolumes(conf, role); err != nil {
		return err
	}
	if _, err := ConfSecretVolumes(conf, role); err != nil {
		return err
	}
	_, err := confSecretEnv(conf, role)
	return err
}

// RoleConfVolumeKeys maps the name of each volume the role's sparkConf
// secret and volume keys add to its pods to the first key declaring it.
func RoleConfVolumeKeys(conf map[string]string, role string) map[string]string {
	return confVolumeKeys(conf, role)
}

// withoutConfVolumes drops from an executor pod template the volumes the
// executors' sparkConf keys declare: Spark's driver adds those to each
// executor pod (MountVolumesFeatureStep, MountSecretsFeatureStep), and a
// second volume of the name would make the API server refuse the pod. An
// init container's mount of spark-local-dir-1 then finds Spark's volume.
func withoutConfVolumes(volumes []corev1.Volume, props map[string]string, role string) []corev1.Volume {
	declared := map[string]bool{}
	for _, n := range confVolumeNames(props, role) {
		declared[n] = true
	}
	var out []corev1.Volume
	for _, v := range volumes {
		if !declared[v.Name] {
			out = append(out, v)
		}
	}
	return out
}
