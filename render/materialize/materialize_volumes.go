package materialize

import (
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// driverVolumesPrefix starts the keys of the driver's volumes in Spark's
// configuration: spark.kubernetes.driver.volumes.<type>.<name>.mount.path,
// .mount.readOnly, .mount.subPath and .options.<option>. The Spark Operator
// passes sparkConf on to spark-submit, and turns driver volume mounts of
// spark-local-dir-<n> volumes into such keys itself, so its drivers get
// them. (Executors' keys need nothing: the driver reads them.)
const driverVolumesPrefix = "spark.kubernetes.driver.volumes."

// onDemandClaim is the claim name that asks Spark to create the claim.
const onDemandClaim = "OnDemand"

// confVolumes is Spark's MountVolumesFeatureStep for the driver: the
// volumes and mounts of spark.kubernetes.driver.volumes.*, sorted by name.
// As in Spark (KubernetesVolumeUtils), a volume needs its mount.path and
// its type's options; an unknown type is an error.
func (m *materializer) confVolumes() ([]corev1.Volume, []corev1.VolumeMount, error) {
	conf := m.prefixed(driverVolumesPrefix)
	type key struct{ kind, name string }
	seen := map[key]bool{}
	var keys []key
	for k := range conf {
		parts := strings.SplitN(k, ".", 3)
		if len(parts) < 3 {
			continue
		}
		if kk := (key{parts[0], parts[1]}); !seen[kk] {
			seen[kk] = true
			keys = append(keys, kk)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].name < keys[j].name || keys[i].name == keys[j].name && keys[i].kind < keys[j].kind
	})
	var volumes []corev1.Volume
	var mounts []corev1.VolumeMount
	for _, k := range keys {
		base := k.kind + "." + k.name + "."
		full := driverVolumesPrefix + base
		path, ok := conf[base+"mount.path"]
		if !ok || strings.TrimSpace(path) == "" {
			return nil, nil, confErrorf(full+"mount.path", "driver volume '%s' has no '%smount.path': Spark requires it", k.name, full)
		}
		readOnly := strings.EqualFold(strings.TrimSpace(conf[base+"mount.readOnly"]), "true")
		source, err := m.confVolumeSource(k.kind, k.name, full, conf, base, readOnly)
		if err != nil {
			return nil, nil, err
		}
		volumes = append(volumes, corev1.Volume{Name: k.name, VolumeSource: source})
		mounts = append(mounts, corev1.VolumeMount{Name: k.name, MountPath: path, ReadOnly: readOnly, SubPath: conf[base+"mount.subPath"]})
	}
	return volumes, mounts, nil
}

// confVolumeSource builds one volume's source from its options.
func (m *materializer) confVolumeSource(kind, name, full string, conf map[string]string, base string, readOnly bool) (corev1.VolumeSource, error) {
	opt := func(o string) string { return strings.TrimSpace(conf[base+"options."+o]) }
	need := func(o string) (string, error) {
		if v := opt(o); v != "" {
			return v, nil
		}
		return "", confErrorf(full+"options."+o, "driver volume '%s' of type %s has no '%soptions.%s': Spark requires it", name, kind, full, o)
	}
	switch kind {
	case "hostPath":
		p, err := need("path")
		if err != nil {
			return corev1.VolumeSource{}, err
		}
		t := corev1.HostPathType(opt("type"))
		return corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: p, Type: &t}}, nil
	case "emptyDir":
		ed := &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMedium(opt("medium"))}
		if s := opt("sizeLimit"); s != "" {
			q, err := resource.ParseQuantity(s)
			if err != nil {
				return corev1.VolumeSource{}, confErrorf(full+"options.sizeLimit", "'%soptions.sizeLimit' is '%s': expected a quantity such as '10Gi'", full, s)
			}
			ed.SizeLimit = &q
		}
		return corev1.VolumeSource{EmptyDir: ed}, nil
	case "nfs":
		server, err := need("server")
		if err != nil {
			return corev1.VolumeSource{}, err
		}
		p, err := need("path")
		if err != nil {
			return corev1.VolumeSource{}, err
		}
		return corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: server, Path: p, ReadOnly: readOnly}}, nil
	case "persistentVolumeClaim":
		claim, err := need("claimName")
		if err != nil {
			return corev1.VolumeSource{}, err
		}
		if claim == onDemandClaim || strings.Contains(claim, "SPARK_EXECUTOR_ID") {
			return corev1.VolumeSource{}, confErrorf(full+"options.claimName",
				"driver volume '%s' asks for a claim created on demand ('%s'), which sparkcd does not create for the driver: create the PersistentVolumeClaim beside the job and name it here, or use an emptyDir", name, claim)
		}
		return corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim, ReadOnly: readOnly}}, nil
	}
	return corev1.VolumeSource{}, confErrorf(full+"mount.path", "driver volume '%s' has type '%s': Spark supports hostPath, emptyDir, nfs and persistentVolumeClaim", name, kind)
}
