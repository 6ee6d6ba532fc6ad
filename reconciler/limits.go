package reconciler

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/policies"
	"github.com/sparkcd/sparkcd/runid"
)

// The runtime limits' condition, reasons and event (docs/run-insight.md).
const (
	// ConditionRunLimitExceeded is True while the job's latest run broke
	// a runtime limit of an AllocationPolicy (maxRunDuration,
	// maxRunCoreHours) or has more executors than a policy's maxExecutors.
	// A new run that breaks none removes it. It is no kstatus condition:
	// Ready and Stalled say how the run itself went.
	ConditionRunLimitExceeded = "RunLimitExceeded"
	// ReasonMaxRunDuration, ReasonMaxRunCoreHours, ReasonExecutorDrift
	// say which limit the condition reports first.
	ReasonMaxRunDuration  = "MaxRunDurationExceeded"
	ReasonMaxRunCoreHours = "MaxRunCoreHoursExceeded"
	ReasonExecutorDrift   = "ExecutorDrift"
	// ReasonLimitExceeded is the reason of a run an Enforce policy's
	// runtime limit stopped.
	ReasonLimitExceeded = "LimitExceeded"
	// EventRunLimitExceeded reports a broken limit, once per new
	// condition.
	EventRunLimitExceeded = "RunLimitExceeded"
)

// policySelector finds the policies selecting a namespace: *policies.Set
// and *policies.Store are both one.
type policySelector interface {
	Select(namespace string) []*v1alpha1.AllocationPolicy
}

var (
	_ policySelector = (*policies.Set)(nil)
	_ policySelector = (*policies.Store)(nil)
)

// limitFinding is one runtime limit a run broke.
type limitFinding struct {
	rule, reason, message string
	enforced              bool
}

// judgeRun holds an active run to the runtime limits of the policies that
// select its job: a broken limit is reported (condition and event), and
// an enforced one stops the run: its driver is deleted (the garbage
// collector deletes the rest) and the run recorded Failed with reason
// LimitExceeded. A limit not reached yet sets when the job is looked at
// again. It reports whether it stopped the run.
func (r *JobReconciler) judgeRun(ctx context.Context, rc *reconciliation, run *v1alpha1.RunStatus) (bool, error) {
	sel, ok := r.opts.Policies.(policySelector)
	if !ok || runid.Finished(run) || run.StartTime == nil {
		return false, nil
	}
	lim := policies.RunLimitsOf(sel.Select(rc.job.Namespace))
	if !lim.Any() {
		return false, nil
	}
	rc.judged = true
	start, now := run.StartTime.Time, rc.now
	var found []limitFinding
	if lim.MaxDuration > 0 {
		if at := start.Add(lim.MaxDuration); now.Before(at) {
			rc.limitAt(at)
		} else {
			found = append(found, limitFinding{policies.RuleMaxRunDuration, ReasonMaxRunDuration,
				fmt.Sprintf("run '%s' ran longer than maxRunDuration %s of policy '%s'", run.Name, lim.MaxDuration, lim.DurationBy.Policy), lim.DurationBy.Enforced()})
		}
	}
	key := runKey{rc.job.Namespace, run.AppID}
	peak := r.executors.peakOf(key)
	if lim.MaxMilliCoreSeconds > 0 {
		used, rate := r.executors.usage(key, start, now, driverRequests(rc.pods[run.Name]))
		switch {
		case used >= lim.MaxMilliCoreSeconds:
			found = append(found, limitFinding{policies.RuleMaxRunCoreHours, ReasonMaxRunCoreHours,
				fmt.Sprintf("run '%s' reserved more than maxRunCoreHours %s of policy '%s'", run.Name, coreHours(lim.MaxMilliCoreSeconds), lim.CoreHoursBy.Policy), lim.CoreHoursBy.Enforced()})
		case rate > 0:
			rc.limitAt(now.Add(time.Duration((lim.MaxMilliCoreSeconds-used)*1000/rate) * time.Millisecond))
		}
	}
	if lim.MaxExecutors >= 0 && peak > lim.MaxExecutors {
		found = append(found, limitFinding{policies.RuleExecutorDrift, ReasonExecutorDrift,
			fmt.Sprintf("run '%s' had %d executors, policy '%s' allows at most %d", run.Name, peak, lim.ExecutorsBy.Policy, lim.MaxExecutors), false})
	}
	rc.limitFindings = append(rc.limitFindings, found...)
	for _, f := range found {
		if f.enforced {
			return true, r.stopRun(ctx, rc, run, f)
		}
	}
	return false, nil
}

// stopRun ends a run that broke an enforced limit.
func (r *JobReconciler) stopRun(ctx context.Context, rc *reconciliation, run *v1alpha1.RunStatus, f limitFinding) error {
	if pod := rc.pods[run.Name]; pod != nil {
		if err := r.deleteDriver(ctx, pod); err != nil {
			return err
		}
	}
	run.Phase = v1alpha1.RunFailed
	run.Reason = ReasonLimitExceeded
	run.Message = f.message + ": the run was stopped (" + f.rule + ")"
	run.CompletionTime = rc.timestamp()
	return nil
}

// markLimits sets the RunLimitExceeded condition from the findings of
// this reconcile's active runs, and sends its event when it is new. With
// no active run the condition stays: it reports the latest run.
func (r *JobReconciler) markLimits(rc *reconciliation) {
	st := &rc.job.Status
	if len(rc.limitFindings) == 0 {
		if rc.judged || len(rc.active()) > 0 {
			apimeta.RemoveStatusCondition(&st.Conditions, ConditionRunLimitExceeded)
		}
		return
	}
	first := rc.limitFindings[0]
	msgs := make([]string, 0, len(rc.limitFindings))
	for _, f := range rc.limitFindings {
		if f.enforced && !first.enforced {
			first = f
		}
		msgs = append(msgs, f.message)
	}
	msg := boundMessage(strings.Join(msgs, "; "))
	old := apimeta.FindStatusCondition(rc.base.Status.Conditions, ConditionRunLimitExceeded)
	apimeta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: ConditionRunLimitExceeded, Status: metav1.ConditionTrue, Reason: first.reason, Message: msg,
		ObservedGeneration: rc.job.Generation,
	})
	if old == nil || old.Reason != first.reason || old.Message != msg {
		rc.events = append(rc.events, runEvent{eventType: corev1.EventTypeWarning, reason: EventRunLimitExceeded, note: msg})
		for _, f := range rc.limitFindings {
			runLimitsExceeded.WithLabelValues(rc.job.Namespace, rc.job.Name, f.rule).Inc()
		}
	}
}

// limitAt notes when a limit not reached yet will be, to look again then.
func (rc *reconciliation) limitAt(t time.Time) {
	if rc.nextLimit.IsZero() || t.Before(rc.nextLimit) {
		rc.nextLimit = t
	}
}

// coreHours formats millicore-seconds as core-hours.
func coreHours(milliCoreSeconds int64) string {
	return fmt.Sprintf("%g", float64(milliCoreSeconds)/3.6e6)
}

// usage is what a run reserved until now, driver and executors, in
// millicore-seconds, and the millicores it reserves now.
func (x *executors) usage(key runKey, start, now time.Time, driver *requests) (used, rate int64) {
	if driver != nil {
		used, rate = reservedBetween(driver.milliCPU, 0, start, now).MilliCoreSeconds, driver.milliCPU
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if t := x.runs[key]; t != nil {
		used += t.reservedAt(now).MilliCoreSeconds
		rate += t.liveMilliCPU()
	}
	return used, rate
}

// peakOf is the most live executors a run had.
func (x *executors) peakOf(key runKey) int32 {
	x.mu.Lock()
	defer x.mu.Unlock()
	if t := x.runs[key]; t != nil {
		return t.peak
	}
	return 0
}
