package admission

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// RuleInvalidToleration: a toleration of the driver or the executors, or
// of their pod templates, breaks the API server's rules for tolerations:
// the API server refuses the pod (an executor's only when the driver
// creates it, while the job runs).
const RuleInvalidToleration = "invalid-toleration"

// validateTolerations checks a role's tolerations, and its template's, by
// the API server's rules for a pod's tolerations, with apimachinery's
// validation of the names and values they hold.
func validateTolerations(f *findings, base string, pod *v1alpha1.SparkPodSpec) {
	checkTolerations(f, base+".tolerations", pod.Tolerations)
	if pod.Template != nil {
		checkTolerations(f, base+".template.spec.tolerations", pod.Template.Spec.Tolerations)
	}
}

func checkTolerations(f *findings, path string, tolerations []corev1.Toleration) {
	for i, t := range tolerations {
		field := indexed(path, i)
		bad := func(sub, format string, args ...any) {
			f.errorf(RuleInvalidToleration, field+sub, "%s%s "+format+": Kubernetes refuses the pod", append([]any{field, sub}, args...)...)
		}
		if t.Key != "" {
			if errs := validation.IsQualifiedName(t.Key); len(errs) > 0 {
				bad(".key", "is %s: %s", quoted(t.Key), strings.Join(errs, "; "))
			}
		} else if t.Operator != corev1.TolerationOpExists {
			bad(".operator", "is %s with no key: a toleration of every key needs operator Exists", quoted(string(t.Operator)))
		}
		switch t.Operator {
		case "", corev1.TolerationOpEqual:
			if errs := validation.IsValidLabelValue(t.Value); len(errs) > 0 {
				bad(".value", "is %s: %s", quoted(t.Value), strings.Join(errs, "; "))
			}
		case corev1.TolerationOpExists:
			if t.Value != "" {
				bad(".value", "is %s with operator Exists: Exists takes no value", quoted(t.Value))
			}
		case corev1.TolerationOpLt, corev1.TolerationOpGt:
			// Behind a feature gate of the cluster's API server, which
			// checks them; sparkcd cannot know whether it is on.
		default:
			bad(".operator", "is %s: expected Equal or Exists", quoted(string(t.Operator)))
		}
		switch t.Effect {
		case "", corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			bad(".effect", "is %s: expected NoSchedule, PreferNoSchedule or NoExecute (or none, for every effect)", quoted(string(t.Effect)))
		}
		if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
			bad(".effect", "is %s with tolerationSeconds: tolerationSeconds needs effect NoExecute", quoted(string(t.Effect)))
		}
	}
}
