package admission

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// The rule ids of Validate's findings. They are stable: CI output, policies
// and users key on them.
const (
	// RuleRequiredField: a field the job cannot run without is missing.
	RuleRequiredField = "required-field"
	// RuleUnsupportedType: spec.type is not Java, Scala, Python or R.
	RuleUnsupportedType = "unsupported-type"
	// RuleUnsupportedMode: spec.mode is not "cluster".
	RuleUnsupportedMode = "unsupported-mode"
	// RuleInvalidMemory: a memory size is not a positive Spark size ("4g").
	RuleInvalidMemory = "invalid-memory"
	// RuleInvalidOverheadFactor: a memory overhead factor is not a positive number.
	RuleInvalidOverheadFactor = "invalid-overhead-factor"
	// RuleInvalidCores: cores, a cpu request or a cpu limit is invalid, or
	// the limit is below the request.
	RuleInvalidCores = "invalid-cores"
	// RuleInvalidCount: an executor count or history limit is negative or
	// not a whole number.
	RuleInvalidCount = "invalid-count"
	// RuleExecutorBounds: dynamic allocation breaks min ≤ initial ≤ max, or
	// max is 0.
	RuleExecutorBounds = "executor-bounds"
	// RuleAllocationRatioRange: executorAllocationRatio is outside (0, 1].
	RuleAllocationRatioRange = "allocation-ratio-range"
	// RuleShuffleMechanismMissing: dynamic allocation without shuffle
	// tracking, shuffle service or shuffle-block migration; Spark refuses it.
	RuleShuffleMechanismMissing = "shuffle-mechanism-missing"
	// RuleInvalidDuration: a timeout or duration cannot be read or is negative.
	RuleInvalidDuration = "invalid-duration"
	// RuleInvalidBoolean: a Spark boolean is neither true nor false.
	RuleInvalidBoolean = "invalid-boolean"
	// RuleInvalidSchedule: schedule is not a cron expression or descriptor,
	// or carries its own time zone.
	RuleInvalidSchedule = "invalid-schedule"
	// RuleInvalidTimeZone: timeZone is not an IANA time zone.
	RuleInvalidTimeZone = "invalid-time-zone"
	// RuleNameTooLong: the job's name leaves no room for its derived names.
	RuleNameTooLong = "name-too-long"
	// RuleInvalidName: the job's name is not a DNS-1035 label.
	RuleInvalidName = "invalid-name"
	// RuleManagedSparkConf: sparkConf sets a key sparkcd manages.
	RuleManagedSparkConf = "managed-spark-conf"
	// RuleNamespaceMismatch: spark.kubernetes.namespace differs from
	// metadata.namespace.
	RuleNamespaceMismatch = "namespace-mismatch"
	// RuleImageConflict: sparkConf sets an image key beside the typed image.
	RuleImageConflict = "image-conflict"
	// RuleCredentialsInSparkConf: a credential sits in sparkConf or
	// hadoopConf, that is in git.
	RuleCredentialsInSparkConf = "credentials-in-spark-conf"
	// RuleConflictingSparkConf: sparkConf sets a key a typed field also
	// sets, to another value; the typed field wins.
	RuleConflictingSparkConf = "conflicting-spark-conf"
	// RuleIgnoredSparkConf: sparkConf sets a key that only spark-submit's
	// driver pod creation reads, which sparkcd replaces.
	RuleIgnoredSparkConf = "ignored-spark-conf"
	// RuleUnknownVolume: a volumeMount names a volume the pod does not have.
	RuleUnknownVolume = "unknown-volume"
	// RuleInvalidPythonVersion: pythonVersion is neither "2" nor "3", or
	// is "2" for a Spark that runs Python 3 only (3.1 and later).
	RuleInvalidPythonVersion = "invalid-python-version"
	// RuleInvalidLogLevel: logLevel is not a log4j2 level.
	RuleInvalidLogLevel = "invalid-log-level"
	// RuleInvalidEnum: concurrencyPolicy or imagePullPolicy has a value
	// outside its enumeration.
	RuleInvalidEnum = "invalid-enum"
	// RuleInvalidPort: spark.ui.port is not a port number.
	RuleInvalidPort = "invalid-port"
)

// findings collects the findings of one job.
type findings []v1alpha1.Finding

func (f *findings) errorf(rule, field, format string, args ...any) {
	*f = append(*f, v1alpha1.Finding{Severity: v1alpha1.SeverityError, Rule: rule, Field: field, Message: fmt.Sprintf(format, args...)})
}

func (f *findings) warnf(rule, field, format string, args ...any) {
	*f = append(*f, v1alpha1.Finding{Severity: v1alpha1.SeverityWarning, Rule: rule, Field: field, Message: fmt.Sprintf(format, args...)})
}

// Validate checks one job on its own, independent of any policy: that
// sparkcd can materialise it and Spark will accept it. Findings are sorted by
// field, then rule; an empty result means the job is valid.
func Validate(job *v1alpha1.SparkJob) []v1alpha1.Finding {
	var f findings
	if job == nil {
		f.errorf(RuleRequiredField, "", "no job")
		return f
	}
	validateName(&f, job)
	validateApplication(&f, job)
	validateSchedule(&f, &job.Spec)
	validateRestartPolicy(&f, job.Spec.RestartPolicy)
	validateVolumes(&f, &job.Spec)
	validateSparkConf(&f, job)
	validateConfMounts(&f, &job.Spec) // validate_confmounts.go
	validatePods(&f, job)
	validatePodFields(&f, job)
	validateAllocation(&f, job)
	validateExpose(&f, job)
	slices.SortStableFunc(f, func(a, b v1alpha1.Finding) int {
		return cmp.Or(cmp.Compare(a.Field, b.Field), cmp.Compare(a.Rule, b.Rule))
	})
	return f
}

// confField is the path of a sparkConf entry.
func confField(key string) string { return "spec.sparkConf[" + key + "]" }

// fieldOf returns the path of the field that sets a Spark key: the typed
// field when set, else the sparkConf entry, else def.
func fieldOf(job *v1alpha1.SparkJob, key, def string) string {
	if path, ok := typedFields(job)[key]; ok {
		return path
	}
	if _, ok := job.Spec.SparkConf[key]; ok {
		return confField(key)
	}
	return def
}

// typedFields maps each Spark key a set typed field writes to its path.
func typedFields(job *v1alpha1.SparkJob) map[string]string {
	s := &job.Spec
	out := map[string]string{}
	set := func(cond bool, key, path string) {
		if cond {
			out[key] = path
		}
	}
	for _, role := range []struct {
		name string
		pod  *v1alpha1.SparkPodSpec
	}{{"driver", &s.Driver.SparkPodSpec}, {"executor", &s.Executor.SparkPodSpec}} {
		p, base := role.pod, "spec."+role.name+"."
		set(p.Cores != nil, "spark."+role.name+".cores", base+"cores")
		set(p.CoreRequest != nil, "spark.kubernetes."+role.name+".request.cores", base+"coreRequest")
		set(p.CoreLimit != nil, "spark.kubernetes."+role.name+".limit.cores", base+"coreLimit")
		set(p.Memory != nil, "spark."+role.name+".memory", base+"memory")
		set(p.MemoryOverhead != nil, "spark."+role.name+".memoryOverhead", base+"memoryOverhead")
		set(p.ServiceAccount != nil, "spark.kubernetes.authenticate."+role.name+".serviceAccountName", base+"serviceAccount")
		set(p.JavaOptions != nil, "spark."+role.name+".extraJavaOptions", base+"javaOptions")
		set(p.Image != nil, "spark.kubernetes."+role.name+".container.image", base+"image")
	}
	set(s.Image != nil, "spark.kubernetes.container.image", "spec.image")
	set(s.ImagePullPolicy != nil, "spark.kubernetes.container.image.pullPolicy", "spec.imagePullPolicy")
	set(len(s.ImagePullSecrets) > 0, "spark.kubernetes.container.image.pullSecrets", "spec.imagePullSecrets")
	set(s.PythonVersion != nil, "spark.kubernetes.pyspark.pythonVersion", "spec.pythonVersion")
	set(s.MemoryOverheadFactor != nil, "spark.kubernetes.memoryOverheadFactor", "spec.memoryOverheadFactor")
	set(s.Executor.Instances != nil, "spark.executor.instances", "spec.executor.instances")
	set(s.Executor.DeleteOnTermination != nil, "spark.kubernetes.executor.deleteOnTermination", "spec.executor.deleteOnTermination")
	d := s.Deps
	set(len(d.Jars) > 0, "spark.jars", "spec.deps.jars")
	set(len(d.Files) > 0, "spark.files", "spec.deps.files")
	set(len(d.PyFiles) > 0, "spark.submit.pyFiles", "spec.deps.pyFiles")
	set(len(d.Packages) > 0, "spark.jars.packages", "spec.deps.packages")
	set(len(d.ExcludePackages) > 0, "spark.jars.excludes", "spec.deps.excludePackages")
	set(len(d.Repositories) > 0, "spark.jars.repositories", "spec.deps.repositories")
	set(len(d.Archives) > 0, "spark.archives", "spec.deps.archives")
	if da := s.DynamicAllocation; da != nil {
		base := "spec.dynamicAllocation."
		set(da.Enabled != nil, "spark.dynamicAllocation.enabled", base+"enabled")
		set(da.InitialExecutors != nil, "spark.dynamicAllocation.initialExecutors", base+"initialExecutors")
		set(da.MinExecutors != nil, "spark.dynamicAllocation.minExecutors", base+"minExecutors")
		set(da.MaxExecutors != nil, "spark.dynamicAllocation.maxExecutors", base+"maxExecutors")
		set(da.ShuffleTrackingEnabled != nil, "spark.dynamicAllocation.shuffleTracking.enabled", base+"shuffleTrackingEnabled")
		set(da.ShuffleTrackingTimeout != nil, "spark.dynamicAllocation.shuffleTracking.timeout", base+"shuffleTrackingTimeout")
		set(da.ExecutorAllocationRatio != nil, "spark.dynamicAllocation.executorAllocationRatio", base+"executorAllocationRatio")
		set(da.ExecutorIdleTimeout != nil, "spark.dynamicAllocation.executorIdleTimeout", base+"executorIdleTimeout")
		set(da.CachedExecutorIdleTimeout != nil, "spark.dynamicAllocation.cachedExecutorIdleTimeout", base+"cachedExecutorIdleTimeout")
		set(da.SchedulerBacklogTimeout != nil, "spark.dynamicAllocation.schedulerBacklogTimeout", base+"schedulerBacklogTimeout")
	}
	return out
}

// quoted quotes a value for a message.
func quoted(s string) string { return "'" + s + "'" }

// str dereferences an optional string.
func optString(p *string) string {
	if p == nil {
		return ""
	}
	return strings.TrimSpace(*p)
}
