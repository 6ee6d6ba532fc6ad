package policies

import (
	"time"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// The rule ids of the runtime limits. The job loop judges them on a run
// while it runs, not on a job's spec: a finding of theirs never refuses a
// job in review (docs/run-insight.md).
const (
	RuleMaxRunDuration  = "max-run-duration"
	RuleMaxRunCoreHours = "max-run-core-hours"
	// RuleExecutorDrift flags a run with more live executors than a
	// policy's maxExecutors allows: what it was admitted with changed
	// under it (a sparkConf edited in the driver, an executor made by
	// hand).
	RuleExecutorDrift = "executor-drift"
)

// RunLimits are the runtime limits the policies selecting one namespace set
// on every run there: the tightest of each, with the policy that sets it.
type RunLimits struct {
	// MaxDuration bounds a run's duration; zero is no bound.
	MaxDuration time.Duration
	// MaxMilliCoreSeconds bounds the cpu a run reserves; zero is no bound.
	MaxMilliCoreSeconds int64
	// MaxExecutors bounds the live executors; negative is no bound.
	MaxExecutors int32
	// DurationBy, CoreHoursBy and ExecutorsBy name the policy of each
	// limit and whether it enforces or audits.
	DurationBy, CoreHoursBy, ExecutorsBy Limiter
}

// Limiter is the policy a runtime limit comes from.
type Limiter struct {
	Policy string
	Action v1alpha1.PolicyAction
}

// Enforced reports whether the limit stops the run.
func (l Limiter) Enforced() bool { return l.Action == v1alpha1.Enforce }

// RunLimitsOf works out the runtime limits of the policies, as Set.Select
// and Store.Select return them. Where two policies set the same limit, the
// lower wins; an Enforce policy wins a tie over an Audit one.
func RunLimitsOf(selected []*v1alpha1.AllocationPolicy) RunLimits {
	l := RunLimits{MaxExecutors: -1}
	for _, p := range selected {
		r := p.Spec.Rules
		if r == nil {
			continue
		}
		by := Limiter{Policy: p.Name, Action: v1alpha1.Enforce}
		if p.Spec.Action == v1alpha1.Audit {
			by.Action = v1alpha1.Audit
		}
		if d := r.MaxRunDuration; d != nil && d.Duration > 0 && tighter(d.Duration, l.MaxDuration, by, l.DurationBy) {
			l.MaxDuration, l.DurationBy = d.Duration, by
		}
		if q := r.MaxRunCoreHours; q != nil && q.Sign() > 0 {
			// Core-hours in millicore-seconds: 1 core-hour is 3,600,000.
			m := max(q.MilliValue()*3600, 1)
			if tighter(m, l.MaxMilliCoreSeconds, by, l.CoreHoursBy) {
				l.MaxMilliCoreSeconds, l.CoreHoursBy = m, by
			}
		}
		if n := r.MaxExecutors; n != nil && (l.MaxExecutors < 0 || *n < l.MaxExecutors) {
			l.MaxExecutors, l.ExecutorsBy = *n, by
		}
	}
	return l
}

// tighter reports whether limit v of policy by replaces limit cur of
// policy curBy: cur is unset, v is lower, or equal and enforced.
func tighter[T int64 | time.Duration](v, cur T, by, curBy Limiter) bool {
	return cur == 0 || v < cur || (v == cur && by.Enforced() && !curBy.Enforced())
}

// Any reports whether any runtime limit is set.
func (l RunLimits) Any() bool {
	return l.MaxDuration > 0 || l.MaxMilliCoreSeconds > 0 || l.MaxExecutors >= 0
}
