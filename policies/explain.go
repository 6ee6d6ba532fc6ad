package policies

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// AppliedDefault is one value a policy's defaults filled into a job: what
// `sparkcd check --policies` shows so that a job a policy changed does not
// read as untouched. Before is "" when the job left the field unset.
type AppliedDefault struct {
	Policy string `json:"policy"`
	Field  string `json:"field"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// AppliedDefaults returns what the defaults of each policy that selects the
// job change in it, policy by policy in the order Apply fills them, each
// field as a path such as spec.dynamicAllocation.maxExecutors or
// spec.executor.nodeSelector[node.kubernetes.io/lifecycle]. job is the job
// as Apply receives it (after v1alpha1.SetDefaults) and is not modified.
// It replays Apply's own defaulting, so it can never tell another story.
func (s *Set) AppliedDefaults(job *v1alpha1.SparkJob) []AppliedDefault {
	if s == nil || job == nil {
		return nil
	}
	out := job.DeepCopy()
	var applied []AppliedDefault
	before := specTree(out)
	for _, c := range s.policies {
		if !c.selects(out.Namespace) || c.policy.Spec.Defaults == nil {
			continue
		}
		applyDefaults(out, c.policy.Spec.Defaults)
		after := specTree(out)
		for _, ch := range treeChanges("spec", before, after) {
			ch.Policy = c.name
			applied = append(applied, ch)
		}
		before = after
	}
	return applied
}

// specTree is the job's spec as its JSON tree, each pod's nodeSelector
// the effective one: a pod without its own takes spec.nodeSelector, so the
// copy fillNodeSelector makes before it adds a label is no change.
func specTree(job *v1alpha1.SparkJob) any {
	spec := job.Spec.DeepCopy()
	for _, p := range []*v1alpha1.SparkPodSpec{&spec.Driver.SparkPodSpec, &spec.Executor.SparkPodSpec} {
		if len(p.NodeSelector) == 0 {
			p.NodeSelector = spec.NodeSelector
		}
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return nil
	}
	var v any
	if json.Unmarshal(b, &v) != nil {
		return nil
	}
	return v
}

// treeChanges lists the leaves that differ between two JSON trees. An
// object is followed key by key, even where it is new, so a new
// dynamicAllocation shows each of its fields; a list element that differs
// is one change with its compact JSON value (a toleration reads as one).
func treeChanges(path string, before, after any) []AppliedDefault {
	bm, bIsMap := before.(map[string]any)
	am, aIsMap := after.(map[string]any)
	if aIsMap && (bIsMap || before == nil) || bIsMap && after == nil {
		keys := make([]string, 0, len(am)+len(bm))
		for k := range am {
			keys = append(keys, k)
		}
		for k := range bm {
			if _, ok := am[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		var out []AppliedDefault
		for _, k := range keys {
			out = append(out, treeChanges(childPath(path, k), bm[k], am[k])...)
		}
		return out
	}
	bl, bIsList := before.([]any)
	al, aIsList := after.([]any)
	if aIsList && (bIsList || before == nil) {
		var out []AppliedDefault
		for i := range max(len(al), len(bl)) {
			var b, a any
			if i < len(bl) {
				b = bl[i]
			}
			if i < len(al) {
				a = al[i]
			}
			if b, a := leafValue(b), leafValue(a); b != a {
				out = append(out, AppliedDefault{Field: fmt.Sprintf("%s[%d]", path, i), Before: b, After: a})
			}
		}
		return out
	}
	if b, a := leafValue(before), leafValue(after); b != a {
		return []AppliedDefault{{Field: path, Before: b, After: a}}
	}
	return nil
}

// identifier is a key written as .key in a field path; any other key (a
// label, a Spark property) is written [key], as findings name sparkConf
// entries.
var identifier = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)

func childPath(path, key string) string {
	if identifier.MatchString(key) {
		return path + "." + key
	}
	return path + "[" + key + "]"
}

// leafValue is a value as the review prints it: a string as it is, "" for
// none, anything else as compact JSON.
func leafValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return strings.TrimSpace(string(b))
	}
}
