package policies

import (
	"fmt"
	"math"
	"path"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// validator collects every problem of one policy, so the platform team
// fixes a file in one pass.
type validator struct {
	policy string
	errs   []*PolicyError
}

func (v *validator) invalid(field, format string, args ...any) {
	v.errs = append(v.errs, fieldError(v.policy, field, ErrInvalidValue, format, args...))
}

// validatePolicy checks the values a strict decode cannot: names, globs,
// ranges, and the consistency of defaults and rules.
func validatePolicy(p *v1alpha1.AllocationPolicy) []*PolicyError {
	v := &validator{policy: p.Name}
	if p.Name == "" {
		v.invalid("metadata.name", "a policy needs a name")
	} else if msgs := validation.IsDNS1123Subdomain(p.Name); len(msgs) > 0 {
		v.invalid("metadata.name", "'%s': %s", p.Name, strings.Join(msgs, "; "))
	}
	switch p.Spec.Action {
	case "", v1alpha1.Enforce, v1alpha1.Audit:
	default:
		v.invalid("spec.action", "'%s' is neither '%s' nor '%s'", p.Spec.Action, v1alpha1.Enforce, v1alpha1.Audit)
	}
	for i, glob := range p.Spec.Namespaces {
		field := fmt.Sprintf("spec.namespaces[%d]", i)
		if glob == "" {
			v.invalid(field, "an empty namespace pattern selects nothing")
		} else if _, err := path.Match(glob, ""); err != nil {
			v.invalid(field, "bad glob '%s': %v", glob, err)
		}
	}
	if d := p.Spec.Defaults; d != nil {
		v.dynamicAllocation("spec.defaults.dynamicAllocation", d.DynamicAllocation)
		v.sparkConf(d)
		v.nodeLabels("spec.defaults.driver.nodeSelector", placementSelector(d.Driver))
		v.nodeLabels("spec.defaults.executor.nodeSelector", placementSelector(d.Executor))
	}
	if r := p.Spec.Rules; r != nil {
		v.rules(r)
		v.podRules(r.Pods)
	}
	v.podSecurity(p.Spec.PodSecurity)
	v.batchScheduler(p.Spec.Defaults, p.Spec.Rules) // rules_scheduler.go
	return v.errs
}

func placementSelector(d *v1alpha1.PlacementDefaults) map[string]string {
	if d == nil {
		return nil
	}
	return d.NodeSelector
}

// dynamicAllocation checks dynamic-allocation defaults.
func (v *validator) dynamicAllocation(prefix string, da *v1alpha1.DynamicAllocation) {
	if da == nil {
		return
	}
	v.count(prefix+".minExecutors", da.MinExecutors)
	v.count(prefix+".initialExecutors", da.InitialExecutors)
	v.count(prefix+".maxExecutors", da.MaxExecutors)
	if da.MinExecutors != nil && da.MaxExecutors != nil && *da.MinExecutors > *da.MaxExecutors {
		v.invalid(prefix+".minExecutors", "%d is above maxExecutors %d", *da.MinExecutors, *da.MaxExecutors)
	}
	if da.InitialExecutors != nil && da.MaxExecutors != nil && *da.InitialExecutors > *da.MaxExecutors {
		v.invalid(prefix+".initialExecutors", "%d is above maxExecutors %d", *da.InitialExecutors, *da.MaxExecutors)
	}
	if da.ExecutorAllocationRatio != nil {
		if _, err := parseRatio(*da.ExecutorAllocationRatio); err != nil {
			v.invalid(prefix+".executorAllocationRatio", "%v", err)
		}
	}
	if da.ShuffleTrackingTimeout != nil && *da.ShuffleTrackingTimeout < 0 {
		v.invalid(prefix+".shuffleTrackingTimeout", "%d ms is negative", *da.ShuffleTrackingTimeout)
	}
	v.nonNegative(prefix+".executorIdleTimeout", da.ExecutorIdleTimeout)
	v.nonNegative(prefix+".cachedExecutorIdleTimeout", da.CachedExecutorIdleTimeout)
	v.nonNegative(prefix+".schedulerBacklogTimeout", da.SchedulerBacklogTimeout)
}

// sparkConf checks sparkConf defaults, which must not set a key the same
// policy also sets through a typed dynamicAllocation default: which of the
// two would win is not something a reader of the policy should work out.
func (v *validator) sparkConf(d *v1alpha1.PolicyDefaults) {
	for key := range d.SparkConf {
		if strings.TrimSpace(key) == "" {
			v.invalid("spec.defaults.sparkConf", "an empty key")
			continue
		}
		if f := daFieldByKey(key); f != nil && d.DynamicAllocation != nil && f.isSet(d.DynamicAllocation) {
			v.invalid(sparkConfPath(defaultsSparkConfPrefix, key),
				"'%s' is also set by spec.defaults.dynamicAllocation.%s", key, f.name)
		}
	}
}

// nodeLabels checks node label requirements.
func (v *validator) nodeLabels(prefix string, labels map[string]string) {
	for k, val := range labels {
		field := fmt.Sprintf("%s[%q]", prefix, k)
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			v.invalid(field, "label key '%s': %s", k, strings.Join(msgs, "; "))
		}
		if msgs := validation.IsValidLabelValue(val); len(msgs) > 0 {
			v.invalid(field, "label value '%s': %s", val, strings.Join(msgs, "; "))
		}
	}
}

// rules checks the rules' limits.
func (v *validator) rules(r *v1alpha1.PolicyRules) {
	const prefix = "spec.rules."
	v.count(prefix+"maxExecutors", r.MaxExecutors)
	v.count(prefix+"maxInitialExecutors", r.MaxInitialExecutors)
	if r.MaxExecutors != nil && r.MaxInitialExecutors != nil && *r.MaxInitialExecutors > *r.MaxExecutors {
		v.invalid(prefix+"maxInitialExecutors", "%d is above maxExecutors %d", *r.MaxInitialExecutors, *r.MaxExecutors)
	}
	if rr := r.ExecutorAllocationRatio; rr != nil {
		v.ratioRange(prefix+"executorAllocationRatio", rr)
	}
	v.positiveDuration(prefix+"maxExecutorIdleTimeout", r.MaxExecutorIdleTimeout)
	v.positiveDuration(prefix+"maxCachedExecutorIdleTimeout", r.MaxCachedExecutorIdleTimeout)
	v.positiveDuration(prefix+"maxShuffleTrackingTimeout", r.MaxShuffleTrackingTimeout)
	v.positive(prefix+"maxDriverCores", r.MaxDriverCores)
	v.positive(prefix+"maxDriverMemory", r.MaxDriverMemory)
	v.positive(prefix+"maxExecutorCores", r.MaxExecutorCores)
	v.positive(prefix+"maxExecutorMemory", r.MaxExecutorMemory)
	v.positive(prefix+"maxJobCores", r.MaxJobCores)
	v.positive(prefix+"maxJobMemory", r.MaxJobMemory)
	v.positiveDuration(prefix+"maxRunDuration", r.MaxRunDuration)
	v.positive(prefix+"maxRunCoreHours", r.MaxRunCoreHours)
	if na := r.NodeAllocatable; na != nil {
		if na.CPU == nil && na.Memory == nil {
			v.invalid(prefix+"nodeAllocatable", "set cpu, memory or both")
		}
		v.positive(prefix+"nodeAllocatable.cpu", na.CPU)
		v.positive(prefix+"nodeAllocatable.memory", na.Memory)
	}
	if pl := r.Placement; pl != nil {
		if d := pl.Driver; d != nil {
			v.nodeLabels(prefix+"placement.driver.requiredNodeLabels", d.RequiredNodeLabels)
			if d.SameZoneAsDriver {
				v.invalid(prefix+"placement.driver.sameZoneAsDriver", "applies to executors only")
			}
		}
		if e := pl.Executor; e != nil {
			v.nodeLabels(prefix+"placement.executor.requiredNodeLabels", e.RequiredNodeLabels)
		}
	}
}

// ratioRange checks an executorAllocationRatio range.
func (v *validator) ratioRange(field string, rr *v1alpha1.RatioRange) {
	if rr.Min == "" && rr.Max == "" {
		v.invalid(field, "set min, max or both")
		return
	}
	lo, hi := 0.0, 1.0
	var err error
	if rr.Min != "" {
		if lo, err = parseRatio(rr.Min); err != nil {
			v.invalid(field+".min", "%v", err)
			return
		}
	}
	if rr.Max != "" {
		if hi, err = parseRatio(rr.Max); err != nil {
			v.invalid(field+".max", "%v", err)
			return
		}
	}
	if lo > hi {
		v.invalid(field+".min", "min %s is above max %s", rr.Min, rr.Max)
	}
}

func (v *validator) count(field string, n *int32) {
	if n != nil && *n < 0 {
		v.invalid(field, "%d is negative", *n)
	}
}

func (v *validator) nonNegative(field string, d *metav1.Duration) {
	if d != nil && d.Duration < 0 {
		v.invalid(field, "%s is negative", d.Duration)
	}
}

func (v *validator) positiveDuration(field string, d *metav1.Duration) {
	if d != nil && d.Duration <= 0 {
		v.invalid(field, "%s is not a positive duration", d.Duration)
	}
}

func (v *validator) positive(field string, q *resource.Quantity) {
	if q != nil && q.Sign() <= 0 {
		v.invalid(field, "%s is not a positive quantity", q.String())
	}
}

// parseRatio parses an executorAllocationRatio, which Spark requires to be
// in (0, 1].
func parseRatio(s string) (float64, error) {
	r, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(r) {
		return 0, fmt.Errorf("ratio '%s' is not a number", s)
	}
	if r <= 0 || r > 1 {
		return 0, fmt.Errorf("ratio '%s' is outside (0, 1]", s)
	}
	return r, nil
}
