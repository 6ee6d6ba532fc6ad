package admission

import (
	"errors"
	"maps"
	"slices"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/materialize"
)

// Rules of the sparkConf volume and secret keys.
const (
	// RuleInvalidConfMount: a spark.kubernetes.<role>.volumes.*,
	// .secrets.* or .secretKeyRef.* key is one Spark refuses.
	RuleInvalidConfMount = "invalid-conf-mount"
	// RuleDuplicateVolume: sparkConf declares a volume of the same name as
	// one the role's pod already has; the API server refuses the pod.
	RuleDuplicateVolume = "duplicate-volume"
)

// validateConfMounts checks the volumes and secrets sparkConf mounts into
// the driver (sparkcd applies them) and the executors (Spark's driver
// applies them to each executor pod): each parses as Spark parses it, and
// none takes the name of a volume the pod already has.
func validateConfMounts(f *findings, s *v1alpha1.SparkJobSpec) {
	for _, role := range []struct {
		name string
		pod  *v1alpha1.SparkPodSpec
	}{{v1alpha1.RoleDriver, &s.Driver.SparkPodSpec}, {v1alpha1.RoleExecutor, &s.Executor.SparkPodSpec}} {
		if err := materialize.CheckConfMounts(s.SparkConf, role.name); err != nil {
			field := "spec.sparkConf"
			var ce *materialize.ConfError
			if errors.As(err, &ce) {
				field = confField(ce.Key)
			}
			f.errorf(RuleInvalidConfMount, field, "%v", err)
			continue
		}
		onPod := podVolumeNames(s, role.pod, role.name == v1alpha1.RoleDriver)
		keys := materialize.RoleConfVolumeKeys(s.SparkConf, role.name)
		for _, name := range slices.Sorted(maps.Keys(keys)) {
			if onPod[name] > 1 {
				f.errorf(RuleDuplicateVolume, confField(keys[name]),
					"%s adds volume %s to the %s pod, which already has a volume of that name (spec.volumes mounted by spec.%s.volumeMounts, or a configMap/secret): the API server refuses a pod with two; rename or remove one",
					keys[name], quoted(name), role.name, role.name)
			}
		}
	}
}

// podVolumeNames counts the volumes of the role's pod by name: sparkcd's
// own and sparkConf's (materialize.AddedVolumeNames lists both), and the
// spec.volumes its Spark container mounts. A count above one is a duplicate.
func podVolumeNames(s *v1alpha1.SparkJobSpec, pod *v1alpha1.SparkPodSpec, driver bool) map[string]int {
	out := map[string]int{}
	for _, n := range materialize.AddedVolumeNames(s, pod, driver) {
		out[n]++
	}
	// Only the Spark container's mounts put a spec.volumes entry on the pod
	// beside sparkConf's, as the Operator's webhook adds volumes for those
	// alone; sparkcd lets sparkConf's volume win for the other mounts.
	mounted := map[string]bool{}
	for _, vm := range pod.VolumeMounts {
		mounted[vm.Name] = true
	}
	for _, v := range s.Volumes {
		if mounted[v.Name] {
			out[v.Name]++
		}
	}
	return out
}
