package policies

import (
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// Placement rules. A pod is required on nodes with a label when its
// effective nodeSelector (its own, else spec.nodeSelector) holds the label,
// or when every term of its required node affinity has an "In" expression
// on the label with that single value: the terms are ORed, so one term
// without it lets the pod land elsewhere.

// zoneKey is the well-known zone label.
const zoneKey = corev1.LabelTopologyZone

// nodeLabel is one node label a pod must be required on.
type nodeLabel struct{ key, value string }

// sortedLabels turns a label map into a list in key order, so findings come
// out in a stable order.
func sortedLabels(m map[string]string) []nodeLabel {
	out := make([]nodeLabel, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, nodeLabel{k, m[k]})
	}
	return out
}

func hasDriverPlacement(c *compiled) bool { return len(c.driverLabels) > 0 }

func hasExecutorPlacement(c *compiled) bool { return len(c.executorLabels) > 0 }

func hasSameZone(c *compiled) bool {
	p := c.rules.Placement
	return p != nil && p.Executor != nil && p.Executor.SameZoneAsDriver
}

func checkDriverPlacement(c *compiled, f *facts) ([]violation, error) {
	return checkNodeLabels(c, f.job, v1alpha1.RoleDriver, c.driverLabels), nil
}

func checkExecutorPlacement(c *compiled, f *facts) ([]violation, error) {
	return checkNodeLabels(c, f.job, v1alpha1.RoleExecutor, c.executorLabels), nil
}

// checkNodeLabels reports each label the pod is not required on.
func checkNodeLabels(c *compiled, job *v1alpha1.SparkJob, role string, want []nodeLabel) []violation {
	pl := placementOf(job, role)
	var vs []violation
	for _, l := range want {
		got, field, ok := pl.required(l.key)
		switch {
		case !ok:
			vs = append(vs, one(labelPath("spec."+role+".nodeSelector", l.key),
				"%s placement does not require %s=%s (by nodeSelector or required node affinity), policy %q requires it",
				role, l.key, l.value, c.name)...)
		case got != l.value:
			vs = append(vs, one(field, "%s placement requires %s=%s, policy %q requires %s=%s",
				role, l.key, got, c.name, l.key, l.value)...)
		}
	}
	return vs
}

// checkSameZone: executors must run in the driver's zone, either because
// both are pinned to one identical zone, or because the executors have a
// required podAffinity to the job's driver over the zone topology.
func checkSameZone(c *compiled, f *facts) ([]violation, error) {
	job := f.job
	if followsDriver(job) {
		return nil, nil
	}
	dz, _, dok := placementOf(job, v1alpha1.RoleDriver).required(zoneKey)
	ez, efield, eok := placementOf(job, v1alpha1.RoleExecutor).required(zoneKey)
	switch {
	case dok && eok && dz == ez:
		return nil, nil
	case dok && eok:
		return one(efield, "executors are pinned to %s=%s and the driver to %s=%s, policy %q requires one zone",
			zoneKey, ez, zoneKey, dz, c.name), nil
	case dok:
		return one(labelPath("spec.executor.nodeSelector", zoneKey),
			"executors are not pinned to the driver's zone %s=%s (nor have a required podAffinity to the driver), policy %q requires it",
			zoneKey, dz, c.name), nil
	case eok:
		return one(labelPath("spec.driver.nodeSelector", zoneKey),
			"the driver is not pinned to the executors' zone %s=%s, policy %q requires one zone",
			zoneKey, ez, c.name), nil
	default:
		return one(labelPath("spec.executor.nodeSelector", zoneKey),
			"neither the driver nor the executors are pinned to a zone (%s), and executors have no required podAffinity to the driver, policy %q requires one zone",
			zoneKey, c.name), nil
	}
}

// labelPath is the field path of one label of a nodeSelector.
func labelPath(selectorPath, key string) string {
	return fmt.Sprintf("%s[%q]", selectorPath, key)
}

// placement is one pod's effective node placement.
type placement struct {
	selector     map[string]string
	selectorPath string
	affinity     *corev1.Affinity
	affinityPath string
}

// placementOf is the driver's or the executors' placement. A pod's own
// nodeSelector replaces spec.nodeSelector.
func placementOf(job *v1alpha1.SparkJob, role string) placement {
	p := pod(job, role)
	pl := placement{
		selector:     p.NodeSelector,
		selectorPath: "spec." + role + ".nodeSelector",
		affinity:     p.Affinity,
		affinityPath: "spec." + role + ".affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution",
	}
	if len(p.NodeSelector) == 0 && len(job.Spec.NodeSelector) > 0 {
		pl.selector, pl.selectorPath = job.Spec.NodeSelector, "spec.nodeSelector"
	}
	return pl
}

// required returns the single value the placement requires for a node
// label, and the field that requires it.
func (pl placement) required(key string) (value, field string, ok bool) {
	if v, ok := pl.selector[key]; ok {
		return v, labelPath(pl.selectorPath, key), true
	}
	if v, ok := affinityRequires(pl.affinity, key); ok {
		return v, pl.affinityPath, true
	}
	return "", "", false
}

// affinityRequires returns the value every required node-affinity term
// pins a label to.
func affinityRequires(a *corev1.Affinity, key string) (string, bool) {
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return "", false
	}
	terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) == 0 {
		return "", false
	}
	var value string
	for i := range terms {
		v, ok := termRequires(&terms[i], key)
		if !ok || i > 0 && v != value {
			return "", false
		}
		value = v
	}
	return value, true
}

// termRequires returns the value one node selector term pins a label to:
// an "In" expression with exactly one value.
func termRequires(t *corev1.NodeSelectorTerm, key string) (string, bool) {
	for _, e := range t.MatchExpressions {
		if e.Key == key && e.Operator == corev1.NodeSelectorOpIn && len(e.Values) == 1 {
			return e.Values[0], true
		}
	}
	return "", false
}

// followsDriver reports whether the executors have a required podAffinity
// to this job's driver with the zone as topology: such a term selects the
// job's own driver, in the job's namespace, and neither the job's
// executors nor the driver of another job.
func followsDriver(job *v1alpha1.SparkJob) bool {
	a := job.Spec.Executor.Affinity
	if a == nil || a.PodAffinity == nil {
		return false
	}
	for i := range a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
		if selectsOwnDriver(job, &a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution[i]) {
			return true
		}
	}
	return false
}

func selectsOwnDriver(job *v1alpha1.SparkJob, t *corev1.PodAffinityTerm) bool {
	if t.TopologyKey != zoneKey || t.LabelSelector == nil || t.NamespaceSelector != nil {
		return false
	}
	for _, ns := range t.Namespaces {
		if ns != job.Namespace {
			return false
		}
	}
	sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector)
	if err != nil {
		return false
	}
	return sel.Matches(podLabels(v1alpha1.RoleDriver, job.Name, job.Spec.Driver.Labels)) &&
		!sel.Matches(podLabels(v1alpha1.RoleExecutor, job.Name, job.Spec.Executor.Labels)) &&
		!sel.Matches(podLabels(v1alpha1.RoleDriver, job.Name+"-another-job", nil))
}

// podLabels are the labels a pod of the job carries that are known before
// a run (spark-app-selector, the run's id, is not).
func podLabels(role, name string, own map[string]string) labels.Set {
	set := make(labels.Set, len(own)+5)
	maps.Copy(set, own)
	set[v1alpha1.LabelSparkRole] = role
	set[v1alpha1.LabelSparkAppName] = name
	set[v1alpha1.LabelOperatorAppName] = name
	set[v1alpha1.LabelJob] = name
	set[v1alpha1.LabelManagedBy] = v1alpha1.ManagedByValue
	return set
}
