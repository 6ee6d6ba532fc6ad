package policies

import (
	"fmt"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// The rule ids. They are stable: they appear in findings, in CI output and
// in the documentation.
const (
	RuleDynamicAllocationRequired = "dynamic-allocation-required"
	RuleShuffleTrackingRequired   = "shuffle-tracking-required"
	RuleInitialWithinBounds       = "initial-within-bounds"
	RuleMaxExecutors              = "max-executors"
	RuleMaxInitialExecutors       = "max-initial-executors"
	RuleAllocationRatio           = "allocation-ratio"
	RuleExecutorIdleTimeout       = "executor-idle-timeout"
	RuleCachedIdleTimeout         = "cached-idle-timeout"
	RuleShuffleTrackingTimeout    = "shuffle-tracking-timeout"
	RuleDriverCores               = "driver-cores"
	RuleDriverMemory              = "driver-memory"
	RuleExecutorCores             = "executor-cores"
	RuleExecutorMemory            = "executor-memory"
	RuleJobCores                  = "job-cores"
	RuleJobMemory                 = "job-memory"
	RuleExecutorFitsNode          = "executor-fits-node"
	RuleDriverPlacement           = "driver-placement"
	RuleExecutorPlacement         = "executor-placement"
	RuleSameZone                  = "same-zone"
	RuleHostPathForbidden         = "host-path-forbidden"
	RuleHostNetworkForbidden      = "host-network-forbidden"
	RulePrivilegedForbidden       = "privileged-forbidden"
	RuleImageRegistry             = "image-registry"
)

// violation is one broken rule, before it becomes a Finding.
type violation struct {
	field   string
	message string
}

// rule is one rule id: whether a policy has it, and how to check a job.
type rule struct {
	id    string
	has   func(c *compiled) bool
	check func(c *compiled, f *facts) ([]violation, error)
}

// ruleTable lists every rule, in the order findings are reported.
var ruleTable = [...]rule{
	{RuleDynamicAllocationRequired, func(c *compiled) bool { return c.rules.RequireDynamicAllocation }, checkDynamicAllocationRequired},
	{RuleShuffleTrackingRequired, func(c *compiled) bool { return c.rules.RequireShuffleTracking }, checkShuffleTrackingRequired},
	{RuleInitialWithinBounds, hasInitialWithinBounds, checkInitialWithinBounds},
	{RuleMaxExecutors, func(c *compiled) bool { return c.rules.MaxExecutors != nil }, checkMaxExecutors},
	{RuleMaxInitialExecutors, func(c *compiled) bool { return c.rules.MaxInitialExecutors != nil }, checkMaxInitialExecutors},
	{RuleAllocationRatio, func(c *compiled) bool { return c.rules.ExecutorAllocationRatio != nil }, checkAllocationRatio},
	{RuleExecutorIdleTimeout, func(c *compiled) bool { return c.rules.MaxExecutorIdleTimeout != nil }, checkExecutorIdleTimeout},
	{RuleCachedIdleTimeout, func(c *compiled) bool { return c.rules.MaxCachedExecutorIdleTimeout != nil }, checkCachedIdleTimeout},
	{RuleShuffleTrackingTimeout, func(c *compiled) bool { return c.rules.MaxShuffleTrackingTimeout != nil }, checkShuffleTrackingTimeout},
	{RuleDriverCores, func(c *compiled) bool { return c.rules.MaxDriverCores != nil }, checkDriverCores},
	{RuleDriverMemory, func(c *compiled) bool { return c.rules.MaxDriverMemory != nil }, checkDriverMemory},
	{RuleExecutorCores, func(c *compiled) bool { return c.rules.MaxExecutorCores != nil }, checkExecutorCores},
	{RuleExecutorMemory, func(c *compiled) bool { return c.rules.MaxExecutorMemory != nil }, checkExecutorMemory},
	{RuleJobCores, func(c *compiled) bool { return c.rules.MaxJobCores != nil }, checkJobCores},
	{RuleJobMemory, func(c *compiled) bool { return c.rules.MaxJobMemory != nil }, checkJobMemory},
	{RuleExecutorFitsNode, func(c *compiled) bool { return c.rules.NodeAllocatable != nil }, checkExecutorFitsNode},
	{RuleDriverPlacement, hasDriverPlacement, checkDriverPlacement},
	{RuleExecutorPlacement, hasExecutorPlacement, checkExecutorPlacement},
	{RuleSameZone, hasSameZone, checkSameZone},
	{RuleHostPathForbidden, func(c *compiled) bool { return podRules(c).ForbidHostPath }, checkHostPath},
	{RuleHostNetworkForbidden, func(c *compiled) bool { return podRules(c).ForbidHostNetwork }, checkHostNetwork},
	{RulePrivilegedForbidden, func(c *compiled) bool { return podRules(c).ForbidPrivileged }, checkPrivileged},
	{RuleImageRegistry, func(c *compiled) bool { return len(podRules(c).AllowedImageRegistries) > 0 }, checkImageRegistry},
	{RuleBatchScheduler, hasBatchSchedulerRule, checkBatchScheduler}, // rules_scheduler.go
	{RuleQueue, hasQueueRule, checkQueue},
}

// one is a single violation.
func one(field, format string, args ...any) []violation {
	return []violation{{field: field, message: fmt.Sprintf(format, args...)}}
}

// fmtDuration prints a duration the way people write it in a policy:
// "15m", "1h", "90s", rather than time.Duration's "15m0s".
func fmtDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	default:
		return d.String()
	}
}

// milliCPU is a cpu amount in its canonical form: "3400m", "4".
func milliCPU(milli int64) *resource.Quantity {
	return resource.NewMilliQuantity(milli, resource.DecimalSI)
}

// fmtCPU prints a cpu quantity canonically.
func fmtCPU(q resource.Quantity) string {
	return milliCPU(q.MilliValue()).String()
}

// fmtRatio prints a ratio without trailing zeros.
func fmtRatio(r float64) string {
	return strconv.FormatFloat(r, 'g', -1, 64)
}

// mib is one mebibyte in bytes.
const mib = 1 << 20

// exceedsMiB reports whether an amount in MiB is above a memory limit.
func exceedsMiB(valueMiB int64, limit *resource.Quantity) bool {
	return valueMiB*mib > limit.Value()
}
