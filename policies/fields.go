package policies

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/sparkconf"
)

// Field paths the findings point at.
const (
	pathDynamicAllocation   = "spec.dynamicAllocation."
	pathExecutorInstances   = "spec.executor.instances"
	sparkConfPrefix         = "spec"
	defaultsSparkConfPrefix = "spec.defaults"
)

// sparkConfPath is the field path of one sparkConf entry under prefix, such
// as spec.sparkConf["spark.dynamicAllocation.maxExecutors"].
func sparkConfPath(prefix, key string) string {
	return fmt.Sprintf("%s.sparkConf[%q]", prefix, key)
}

// daField ties one typed dynamicAllocation field to its Spark key, so
// defaults never override a value the job sets either way, and findings
// point at the way the job set it.
type daField struct {
	name  string // the JSON name under spec.dynamicAllocation
	key   string
	isSet func(*v1alpha1.DynamicAllocation) bool
	fill  func(dst, src *v1alpha1.DynamicAllocation)
}

// The typed dynamicAllocation fields, as indexes into daFields.
const (
	daEnabled = iota
	daInitialExecutors
	daMinExecutors
	daMaxExecutors
	daShuffleTracking
	daShuffleTrackingTimeout
	daRatio
	daIdleTimeout
	daCachedIdleTimeout
	daBacklogTimeout
)

// daFields lists every typed dynamicAllocation field, in the order of the
// constants above.
var daFields = [...]daField{
	{"enabled", sparkconf.KeyDynamicAllocationEnabled,
		func(d *v1alpha1.DynamicAllocation) bool { return d.Enabled != nil },
		func(dst, src *v1alpha1.DynamicAllocation) { dst.Enabled = clonePtr(src.Enabled) }},
	{"initialExecutors", sparkconf.KeyInitialExecutors,
		func(d *v1alpha1.DynamicAllocation) bool { return d.InitialExecutors != nil },
		func(dst, src *v1alpha1.DynamicAllocation) { dst.InitialExecutors = clonePtr(src.InitialExecutors) }},
	{"minExecutors", sparkconf.KeyMinExecutors,
		func(d *v1alpha1.DynamicAllocation) bool { return d.MinExecutors != nil },
		func(dst, src *v1alpha1.DynamicAllocation) { dst.MinExecutors = clonePtr(src.MinExecutors) }},
	{"maxExecutors", sparkconf.KeyMaxExecutors,
		func(d *v1alpha1.DynamicAllocation) bool { return d.MaxExecutors != nil },
		func(dst, src *v1alpha1.DynamicAllocation) { dst.MaxExecutors = clonePtr(src.MaxExecutors) }},
	{"shuffleTrackingEnabled", sparkconf.KeyShuffleTrackingEnabled,
		func(d *v1alpha1.DynamicAllocation) bool { return d.ShuffleTrackingEnabled != nil },
		func(dst, src *v1alpha1.DynamicAllocation) {
			dst.ShuffleTrackingEnabled = clonePtr(src.ShuffleTrackingEnabled)
		}},
	{"shuffleTrackingTimeout", sparkconf.KeyShuffleTrackingTimeout,
		func(d *v1alpha1.DynamicAllocation) bool { return d.ShuffleTrackingTimeout != nil },
		func(dst, src *v1alpha1.DynamicAllocation) {
			dst.ShuffleTrackingTimeout = clonePtr(src.ShuffleTrackingTimeout)
		}},
	{"executorAllocationRatio", sparkconf.KeyExecutorAllocationRatio,
		func(d *v1alpha1.DynamicAllocation) bool { return d.ExecutorAllocationRatio != nil },
		func(dst, src *v1alpha1.DynamicAllocation) {
			dst.ExecutorAllocationRatio = clonePtr(src.ExecutorAllocationRatio)
		}},
	{"executorIdleTimeout", sparkconf.KeyExecutorIdleTimeout,
		func(d *v1alpha1.DynamicAllocation) bool { return d.ExecutorIdleTimeout != nil },
		func(dst, src *v1alpha1.DynamicAllocation) {
			dst.ExecutorIdleTimeout = clonePtr(src.ExecutorIdleTimeout)
		}},
	{"cachedExecutorIdleTimeout", sparkconf.KeyCachedExecutorIdleTimeout,
		func(d *v1alpha1.DynamicAllocation) bool { return d.CachedExecutorIdleTimeout != nil },
		func(dst, src *v1alpha1.DynamicAllocation) {
			dst.CachedExecutorIdleTimeout = clonePtr(src.CachedExecutorIdleTimeout)
		}},
	{"schedulerBacklogTimeout", sparkconf.KeySchedulerBacklogTimeout,
		func(d *v1alpha1.DynamicAllocation) bool { return d.SchedulerBacklogTimeout != nil },
		func(dst, src *v1alpha1.DynamicAllocation) {
			dst.SchedulerBacklogTimeout = clonePtr(src.SchedulerBacklogTimeout)
		}},
}

// daFieldByKey returns the typed field behind a Spark key, or nil.
func daFieldByKey(key string) *daField {
	for i := range daFields {
		if daFields[i].key == key {
			return &daFields[i]
		}
	}
	return nil
}

// clonePtr returns a pointer to a copy of *p, or nil.
func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// fieldOf is where a job sets a value: the typed field when it is set (the
// typed fields win over sparkConf, as in the Spark Operator, which passes
// them after sparkConf), else the sparkConf entry when there is one, else
// the typed field, the place a fix belongs.
func fieldOf(job *v1alpha1.SparkJob, typedSet bool, typedPath, key string) string {
	if typedSet {
		return typedPath
	}
	if _, ok := job.Spec.SparkConf[key]; ok {
		return sparkConfPath(sparkConfPrefix, key)
	}
	return typedPath
}

// daPath is where the job sets one dynamicAllocation value (a daField
// index).
func daPath(job *v1alpha1.SparkJob, field int) string {
	f := &daFields[field]
	da := job.Spec.DynamicAllocation
	return fieldOf(job, da != nil && f.isSet(da), pathDynamicAllocation+f.name, f.key)
}

// daSet reports whether the job sets one dynamicAllocation value, typed or
// through sparkConf.
func daSet(job *v1alpha1.SparkJob, field int) bool {
	f := &daFields[field]
	if da := job.Spec.DynamicAllocation; da != nil && f.isSet(da) {
		return true
	}
	_, ok := job.Spec.SparkConf[f.key]
	return ok
}

// rawCount is a count the job sets, as the typed field or through its
// sparkConf key (the typed field wins, as in JobProperties).
func rawCount(job *v1alpha1.SparkJob, typed *int32, key string) (int32, bool) {
	if typed != nil {
		return *typed, true
	}
	v, ok := job.Spec.SparkConf[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
	return int32(n), err == nil
}

// instancesPath is where the job sets spark.executor.instances.
func instancesPath(job *v1alpha1.SparkJob) string {
	return fieldOf(job, job.Spec.Executor.Instances != nil, pathExecutorInstances, sparkconf.KeyExecutorInstances)
}

// peakPath is where the job's peak executor count comes from: maxExecutors
// with dynamic allocation, the static instances without.
func peakPath(job *v1alpha1.SparkJob, dynamic bool) string {
	if dynamic {
		return daPath(job, daMaxExecutors)
	}
	return instancesPath(job)
}

// pod returns the driver's or the executors' pod spec.
func pod(job *v1alpha1.SparkJob, role string) *v1alpha1.SparkPodSpec {
	if role == v1alpha1.RoleDriver {
		return &job.Spec.Driver.SparkPodSpec
	}
	return &job.Spec.Executor.SparkPodSpec
}

// cpuPath is where a pod's cpu request comes from: the request cores when
// set, else the cores.
func cpuPath(job *v1alpha1.SparkJob, role string) string {
	p := pod(job, role)
	reqKey := "spark.kubernetes." + role + ".request.cores"
	if p.CoreRequest != nil {
		return "spec." + role + ".coreRequest"
	}
	if _, ok := job.Spec.SparkConf[reqKey]; ok {
		return sparkConfPath(sparkConfPrefix, reqKey)
	}
	return fieldOf(job, p.Cores != nil, "spec."+role+".cores", "spark."+role+".cores")
}

// memoryPath is where a pod's memory comes from.
func memoryPath(job *v1alpha1.SparkJob, role string) string {
	return fieldOf(job, pod(job, role).Memory != nil, "spec."+role+".memory", "spark."+role+".memory")
}
