package policies

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/sparkconf"
)

// applyDefaults fills one policy's defaults into job wherever the job leaves
// a value unset. Called in policy-name order, the first policy that sets a
// value wins, because a value filled in is no longer unset.
func applyDefaults(job *v1alpha1.SparkJob, d *v1alpha1.PolicyDefaults) {
	if d == nil {
		return
	}
	if d.DynamicAllocation != nil || len(d.SparkConf) > 0 {
		// What the job sets is read once, before this policy fills
		// anything: validation keeps a policy from setting one key twice.
		set := jobSetKeys(job)
		fillDynamicAllocation(job, d.DynamicAllocation, set)
		fillSparkConf(job, d.SparkConf, set)
	}
	fillPlacement(&job.Spec.Driver.SparkPodSpec, job.Spec.NodeSelector, d.Driver)
	fillPlacement(&job.Spec.Executor.SparkPodSpec, job.Spec.NodeSelector, d.Executor)
	fillBatchScheduler(job, d) // rules_scheduler.go
}

// fillDynamicAllocation fills each typed dynamicAllocation field the job
// sets neither as the typed field nor through its sparkConf key, nor
// implies (enabling dynamic allocation turns shuffle tracking on).
func fillDynamicAllocation(job *v1alpha1.SparkJob, def *v1alpha1.DynamicAllocation, set func(string) bool) {
	if def == nil {
		return
	}
	for i := range daFields {
		f := &daFields[i]
		if !f.isSet(def) || daSet(job, i) || set(f.key) {
			continue
		}
		if job.Spec.DynamicAllocation == nil {
			job.Spec.DynamicAllocation = &v1alpha1.DynamicAllocation{}
		}
		f.fill(job.Spec.DynamicAllocation, def)
	}
}

// fillSparkConf adds each sparkConf default whose key the job does not
// set, through sparkConf or through a typed field: a default for
// spark.executor.memory must not sit beside spec.executor.memory.
func fillSparkConf(job *v1alpha1.SparkJob, def map[string]string, set func(string) bool) {
	for k, v := range def {
		if set(k) {
			continue
		}
		if job.Spec.SparkConf == nil {
			job.Spec.SparkConf = make(map[string]string, len(def))
		}
		job.Spec.SparkConf[k] = v
	}
}

// jobSetKeys returns whether the job sets a Spark key: in sparkConf, in
// hadoopConf, or through a typed field. The typed fields' keys are those
// where the job's properties differ from those of a bare job of the same
// type and name, so keys that are always written (spark.app.name, the
// default memoryOverheadFactor) do not count as set, and keys a typed field
// implies (shuffle tracking, which enabling dynamic allocation turns on)
// do.
func jobSetKeys(job *v1alpha1.SparkJob) func(string) bool {
	props, err := sparkconf.JobProperties(job)
	if err != nil {
		// A value Spark would not accept, reported by validation: judge by
		// sparkConf alone.
		return func(k string) bool { _, ok := job.Spec.SparkConf[k]; return ok }
	}
	bare := &v1alpha1.SparkJob{ObjectMeta: metav1.ObjectMeta{Name: job.Name, Namespace: job.Namespace}, Spec: v1alpha1.SparkJobSpec{Type: job.Spec.Type}}
	base, _ := sparkconf.JobProperties(bare)
	return func(k string) bool {
		if _, ok := job.Spec.SparkConf[k]; ok {
			return true
		}
		v, ok := props[k]
		if !ok {
			return false
		}
		b, inBase := base[k]
		return !inBase || b != v
	}
}

// fillPlacement fills one pod's placement defaults. nodeSelector entries
// are filled per label key; the three kinds of affinity (node, pod, pod
// anti-affinity) each as a whole; tolerations one by one, unless the pod
// already tolerates the same key and effect; priorityClassName as a whole.
func fillPlacement(p *v1alpha1.SparkPodSpec, jobSelector map[string]string, d *v1alpha1.PlacementDefaults) {
	if d == nil {
		return
	}
	fillNodeSelector(p, jobSelector, d.NodeSelector)
	if d.Affinity != nil {
		fillAffinity(p, d.Affinity)
	}
	for i := range d.Tolerations {
		if !tolerates(p.Tolerations, &d.Tolerations[i]) {
			p.Tolerations = append(p.Tolerations, *d.Tolerations[i].DeepCopy())
		}
	}
	if d.PriorityClassName != "" && (p.PriorityClassName == nil || *p.PriorityClassName == "") {
		name := d.PriorityClassName
		p.PriorityClassName = &name
	}
}

// fillNodeSelector adds the default labels the pod's effective
// nodeSelector lacks. A pod's own nodeSelector replaces spec.nodeSelector,
// so before a pod without one gets its own, it takes a copy of the job's:
// a default must add to the job's placement, never drop it.
func fillNodeSelector(p *v1alpha1.SparkPodSpec, jobSelector, def map[string]string) {
	effective := p.NodeSelector
	if len(effective) == 0 {
		effective = jobSelector
	}
	missing := false
	for k := range def {
		if _, ok := effective[k]; !ok {
			missing = true
			break
		}
	}
	if !missing {
		return
	}
	if len(p.NodeSelector) == 0 {
		p.NodeSelector = maps.Clone(jobSelector)
	}
	if p.NodeSelector == nil {
		p.NodeSelector = make(map[string]string, len(def))
	}
	for k, v := range def {
		if _, ok := p.NodeSelector[k]; !ok {
			p.NodeSelector[k] = v
		}
	}
}

// fillAffinity fills each kind of affinity the pod leaves unset.
func fillAffinity(p *v1alpha1.SparkPodSpec, def *corev1.Affinity) {
	if p.Affinity == nil {
		p.Affinity = def.DeepCopy()
		return
	}
	if p.Affinity.NodeAffinity == nil && def.NodeAffinity != nil {
		p.Affinity.NodeAffinity = def.NodeAffinity.DeepCopy()
	}
	if p.Affinity.PodAffinity == nil && def.PodAffinity != nil {
		p.Affinity.PodAffinity = def.PodAffinity.DeepCopy()
	}
	if p.Affinity.PodAntiAffinity == nil && def.PodAntiAffinity != nil {
		p.Affinity.PodAntiAffinity = def.PodAntiAffinity.DeepCopy()
	}
}

// tolerates reports whether tolerations already hold one for t's key and
// effect: the job's own choice of operator and value for a taint stands.
func tolerates(tolerations []corev1.Toleration, t *corev1.Toleration) bool {
	for i := range tolerations {
		if tolerations[i].Key == t.Key && tolerations[i].Effect == t.Effect {
			return true
		}
	}
	return false
}
