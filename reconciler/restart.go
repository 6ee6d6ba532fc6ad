package reconciler

import (
	"cmp"
	"fmt"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

// Restart policies (docs/restarts.md). A run that ends may be followed by
// a new attempt: a new run, with its own driver, named from the run it
// follows and its attempt number, so every replica and every restarted
// sparkcd names it alike and its create is AlreadyExists the second time.
// The attempt is due at the end of the run it follows plus a delay:
//
//   - OnFailure, attempt k failed: k × onFailureRetryInterval (the Spark
//     Operator's linear back-off), while k ≤ onFailureRetries;
//   - Always, attempt succeeded: at once;
//   - Always, f failures in a row: min(onFailureRetryInterval × 2^(f-1),
//     max(onFailureRetryInterval, maxRestartBackoff)).
//
// A driver the API server refuses to create (submission failure) is tried
// again under the same run name: the n-th refusal waits
// n × onSubmissionFailureRetryInterval with OnFailure, up to
// onSubmissionFailureRetries, and the exponential back-off without limit
// with Always.

// maxRestartBackoff caps the back-off of failures in a row under Always,
// unless the interval itself is longer.
const maxRestartBackoff = 10 * time.Minute

// Condition, run and event reasons of restarts.
const (
	// ReasonRetryScheduled: the last run ended and spec.restartPolicy
	// starts a new attempt at status.nextAttempt.time.
	ReasonRetryScheduled = "RetryScheduled"
	// ReasonSubmissionFailed: the API server refused the driver pod; as
	// a run's reason, the run was given up after the last refusal.
	ReasonSubmissionFailed = "SubmissionFailed"
	// EventRetrying: a new attempt is scheduled.
	EventRetrying = "Retrying"
	// EventRetriesExhausted: OnFailure's budget is spent; the failure stays.
	EventRetriesExhausted = "RetriesExhausted"
)

// retryPlan is an attempt that follows a run that ended.
type retryPlan struct {
	name    string
	attempt int32
	after   *v1alpha1.RunStatus
	at      time.Time
	message string
}

// planRetry returns the attempt the restart policy makes follow the job's
// newest run, or nil when none does: the newest run has not ended, or
// ended as the policy leaves it.
func (rc *reconciliation) planRetry() *retryPlan {
	policy := rc.admitted.Spec.RestartPolicy
	kind := policy.Kind()
	if kind == v1alpha1.RestartNever {
		return nil
	}
	last := rc.newest()
	if last == nil || !runid.Finished(last) || last.Reason == runid.ReasonReplaced {
		return nil
	}
	if last.Reason == runid.ReasonInterrupted {
		// An attempt that never ran takes its predecessor's place; its
		// name goes to a derived one (runName). A first attempt's
		// trigger, still due, starts it again without a retry.
		if last = rc.runs[last.RetryOf]; last == nil || !runid.Finished(last) {
			return nil
		}
	}
	attempt := max(last.Attempt, 1)
	interval := time.Duration(policy.FailureInterval()) * time.Second
	var delay time.Duration
	var why string
	switch {
	case kind == v1alpha1.RestartOnFailure && last.Phase == v1alpha1.RunSucceeded:
		return nil
	case kind == v1alpha1.RestartOnFailure && last.Reason == ReasonSubmissionFailed:
		return nil
	case kind == v1alpha1.RestartOnFailure && last.Reason == ReasonLimitExceeded:
		// A policy's runtime limit stopped it: another attempt would
		// reserve as much again (limits.go).
		return nil
	case kind == v1alpha1.RestartOnFailure:
		if attempt > policy.FailureRetries() {
			rc.exhausted(last, attempt, policy.FailureRetries())
			return nil
		}
		delay = interval * time.Duration(attempt)
		why = fmt.Sprintf("run '%s' failed (attempt %d of %d)", last.Name, attempt, policy.FailureRetries()+1)
	case last.Phase == v1alpha1.RunSucceeded:
		why = fmt.Sprintf("run '%s' succeeded (restartPolicy Always)", last.Name)
	default:
		f := rc.failuresInRow(last)
		delay = backoff(interval, f)
		why = fmt.Sprintf("run '%s' failed, %d failures in a row (restartPolicy Always)", last.Name, f)
	}
	end := last.CompletionTime
	if end == nil {
		end = rc.timestamp()
	}
	return &retryPlan{
		name:    runid.RunName(rc.job.Name, "a"+runid.DigestOf(string(rc.job.UID), last.Name, strconv.Itoa(int(attempt)+1))[:runid.MaxRunSuffixLength-1]),
		attempt: attempt + 1,
		after:   last,
		at:      end.Add(delay),
		message: why,
	}
}

// backoff is the exponential back-off after f failures in a row:
// interval × 2^(f-1), at most max(interval, maxRestartBackoff).
func backoff(interval time.Duration, f int) time.Duration {
	limit := max(interval, maxRestartBackoff)
	d := interval
	for i := 1; i < f && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// failuresInRow counts the failed attempts that end with run, following
// retryOf back through the runs the status still has.
func (rc *reconciliation) failuresInRow(run *v1alpha1.RunStatus) int {
	n := 0
	for seen := map[string]bool{}; run != nil && run.Phase == v1alpha1.RunFailed && !seen[run.Name]; run = rc.runs[run.RetryOf] {
		seen[run.Name] = true
		n++
	}
	return n
}

// newest is the job's newest run, as writeRuns picks status.lastRun.
func (rc *reconciliation) newest() *v1alpha1.RunStatus {
	if len(rc.runs) == 0 {
		return nil
	}
	all := make([]*v1alpha1.RunStatus, 0, len(rc.runs))
	for _, run := range rc.runs {
		all = append(all, run)
	}
	sort.Slice(all, func(i, j int) bool { return runid.Newer(all[i], all[j]) })
	return rc.lastRun(all, lastRunName(rc.base))
}

// waitForRetry records an attempt that is not due yet: status.nextAttempt
// says when, the conditions say why, and the job is looked at again then.
func (rc *reconciliation) waitForRetry(next *v1alpha1.NextAttempt) {
	msg := rc.noteRetry(next)
	rc.retry = &waiting{reason: ReasonRetryScheduled, message: msg, retry: max(next.Time.Sub(rc.now), time.Second)}
}

// noteRetry puts the attempt in status.nextAttempt and sends the Retrying
// event once per attempt (and per refused create), with the status write
// that first shows it. It returns the event's note.
func (rc *reconciliation) noteRetry(next *v1alpha1.NextAttempt) string {
	rc.job.Status.NextAttempt = next
	msg := fmt.Sprintf("%s; attempt %d, run '%s', starts at %s", next.Message, next.Attempt, next.Run, next.Time.UTC().Format(time.RFC3339))
	if prev := rc.base.Status.NextAttempt; prev == nil || prev.Run != next.Run || prev.SubmissionFailures != next.SubmissionFailures {
		rc.events = append(rc.events, runEvent{eventType: corev1.EventTypeNormal, reason: EventRetrying, note: msg,
			run: v1alpha1.RunStatus{Name: next.Run, Attempt: next.Attempt, Reason: retryCause(next)}})
	}
	return msg
}

// ceilSecond rounds t up to the API's one-second precision, so a retry
// never starts before its interval has passed.
func ceilSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); r.Before(t) {
		return r.Add(time.Second)
	}
	return t
}

// nextAttempt is the status form of a retry plan.
func (p *retryPlan) nextAttempt() *v1alpha1.NextAttempt {
	return &v1alpha1.NextAttempt{Run: p.name, Attempt: p.attempt, Time: metav1.NewTime(p.at), After: p.after.Name, Message: p.message}
}

// retryCause is the cause label of the retries metric.
func retryCause(next *v1alpha1.NextAttempt) string {
	switch {
	case next.SubmissionFailures > 0:
		return "submission"
	case next.After == "":
		return "unknown"
	}
	return "run"
}

// exhausted reports, once, that OnFailure's retries are spent: with the
// status that records the failure of the last attempt.
func (rc *reconciliation) exhausted(last *v1alpha1.RunStatus, attempt, retries int32) {
	for _, e := range rc.events {
		if e.reason == EventRunFailed && e.run.Name == last.Name {
			rc.events = append(rc.events, runEvent{eventType: corev1.EventTypeWarning, reason: EventRetriesExhausted,
				note: fmt.Sprintf("run '%s' failed at attempt %d of %d: no retry left (restartPolicy OnFailure, onFailureRetries %d)", last.Name, attempt, retries+1, retries),
				run:  *last})
			return
		}
	}
}

// refused reports whether the API server refused a driver pod for what it
// is — a quota, an admission webhook, pod security, an invalid object —
// rather than failing to answer: a submission failure.
func refused(err error) bool {
	return apierrors.IsForbidden(err) || apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsRequestEntityTooLargeError(err)
}

// dueRetry fills p with the attempt the restart policy has due now and
// returns its trigger, the trigger of the run it follows; "" when none is
// due — one due later is waited for.
func (rc *reconciliation) dueRetry(p *plannedRun) v1alpha1.RunTrigger {
	rp := rc.planRetry()
	if rp == nil {
		return ""
	}
	if rc.suspended {
		// No attempt starts while suspended; the status still says which
		// one comes when the job resumes.
		rc.job.Status.NextAttempt = rp.nextAttempt()
		return ""
	}
	if rc.now.Before(rp.at) {
		rc.waitForRetry(rp.nextAttempt())
		return ""
	}
	p.retry, p.attempt, p.retryOf = rp, rp.attempt, rp.after.Name
	return cmp.Or(rp.after.Trigger, v1alpha1.TriggerCommit)
}

// holdSubmission keeps a run whose driver was refused from being tried
// again before its time, and reports whether the run waits. A due run
// keeps its count of refusals; a due attempt is announced.
func (rc *reconciliation) holdSubmission(prev *v1alpha1.NextAttempt, p *plannedRun, name string) bool {
	if prev != nil && prev.Run == name && prev.SubmissionFailures > 0 {
		if rc.now.Before(prev.Time.Time) {
			rc.waitForRetry(prev)
			return true
		}
		rc.job.Status.NextAttempt = prev
		return false
	}
	if p.retry != nil {
		next := p.retry.nextAttempt()
		next.Run = name
		rc.noteRetry(next)
	}
	return false
}

// submissionFailed handles a driver create the API server refused, under
// OnFailure or Always: the try is counted and the run waits for the next
// one, or — OnFailure's budget spent — the run is recorded as failed,
// reason SubmissionFailed, and its trigger answered.
func (rc *reconciliation) submissionFailed(p *plannedRun, createErr error) {
	policy := rc.admitted.Spec.RestartPolicy
	n := int32(1)
	if prev := rc.job.Status.NextAttempt; prev != nil && prev.Run == p.run.Name {
		n = prev.SubmissionFailures + 1
	}
	interval := time.Duration(policy.SubmissionInterval()) * time.Second
	if policy.Kind() == v1alpha1.RestartOnFailure && n > policy.SubmissionRetries() {
		run := &v1alpha1.RunStatus{
			Name: p.run.Name, AppID: p.run.AppID, Trigger: p.run.Trigger, Revision: p.run.Revision, SpecHash: p.run.SpecHash,
			Phase: v1alpha1.RunFailed, Reason: ReasonSubmissionFailed, StartTime: rc.timestamp(), CompletionTime: rc.timestamp(),
			Attempt: p.attempt, RetryOf: p.retryOf,
			Message: fmt.Sprintf("the driver pod was refused %d times (onSubmissionFailureRetries %d): %v", n, policy.SubmissionRetries(), createErr),
		}
		rc.runs[run.Name] = run
		rc.startedName = run.Name
		rc.job.Status.NextAttempt = nil
		rc.answered(p)
		rc.ended(run)
		return
	}
	delay := interval * time.Duration(n)
	if policy.Kind() == v1alpha1.RestartAlways {
		delay = backoff(interval, int(n))
	}
	rc.waitForRetry(&v1alpha1.NextAttempt{
		Run: p.run.Name, Attempt: max(p.attempt, 1), Time: metav1.NewTime(ceilSecond(rc.now.Add(delay))),
		After: p.retryOf, SubmissionFailures: n,
		Message: fmt.Sprintf("the driver pod of run '%s' was refused (submission failure %d): %v", p.run.Name, n, createErr),
	})
}

// annotateAttempt marks the driver of an attempt after the first with its
// attempt number and the run it follows, so the run read back from the pod
// (runid.FromPod) knows its place in the chain.
func annotateAttempt(pod *corev1.Pod, p *plannedRun) {
	if p.attempt < 2 {
		return
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[v1alpha1.AnnotationAttempt] = strconv.Itoa(int(p.attempt))
	pod.Annotations[v1alpha1.AnnotationRetryOf] = p.retryOf
}
