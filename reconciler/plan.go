package reconciler

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/materialize"
	"github.com/sparkcd/sparkcd/runid"
)

// plannedRun is a run that is due, and what its start answers.
type plannedRun struct {
	run  runid.Identity
	objs *materialize.Objects
	// commit is set when the run is for a new spec hash.
	commit bool
	// request is the manual request the run answers.
	request string
	// tick is the schedule tick the run answers.
	tick time.Time
	// replace are the active runs concurrencyPolicy Replace ends.
	replace []string
	// retry is set when the run is an attempt spec.restartPolicy starts
	// after an ended run; attempt and retryOf are its place in the chain.
	retry   *retryPlan
	attempt int32
	retryOf string
	// queue is how the run is queued in Kueue; nil when it is not.
	queue *queuePlan
}

// plan decides which run, if any, is due: one for a spec hash no run has
// had yet (jobs without a schedule), one for a schedule tick (asked of the
// Scheduler), one for a new manual request; when none of those is, the
// attempt spec.restartPolicy has due after the newest run ended
// (restart.go). When several are due at once one run answers them all. A due run that was already started — by a loop
// stopped before it wrote the status — is only recorded.
func (r *JobReconciler) plan(rc *reconciliation) (*plannedRun, error) {
	job, st := rc.job, &rc.job.Status
	rc.suspended = rc.admitted.Spec.Suspend != nil && *rc.admitted.Spec.Suspend
	p := &plannedRun{}
	var trigger v1alpha1.RunTrigger
	// The next attempt is planned anew; a refused create's count is kept
	// only for the run it was refused for (holdSubmission).
	prevAttempt := st.NextAttempt
	st.NextAttempt = nil
	if job.Spec.Schedule == "" {
		switch {
		case rc.hash == st.SpecHash:
		case rc.ranRevision():
			// The status was edited: the run is there, it is not due.
			rc.statusRepaired = true
			st.SpecHash, st.LastAppliedRevision = rc.hash, rc.revision
		default:
			p.commit, trigger = true, v1alpha1.TriggerCommit
		}
	} else {
		st.SpecHash, st.LastAppliedRevision = rc.hash, rc.revision
		if r.opts.Scheduler != nil {
			last := job.CreationTimestamp.Time
			if st.LastScheduleTime != nil {
				last = st.LastScheduleTime.Time
			}
			tick, next, err := r.opts.Scheduler.Due(rc.admitted, last, rc.now)
			if err != nil {
				return nil, reconcile.TerminalError(fmt.Errorf("%w: %w", ErrInvalidSchedule, err))
			}
			rc.nextTick = next
			if !next.IsZero() {
				st.NextScheduleTime = &metav1.Time{Time: next}
			}
			if !tick.IsZero() {
				p.tick, trigger = tick, v1alpha1.TriggerSchedule
			}
		}
	}
	if req := job.Annotations[v1alpha1.AnnotationRunRequestedAt]; req != "" && req != st.LastHandledRunRequest {
		p.request = req
		if trigger == "" {
			trigger = v1alpha1.TriggerManual
		}
	}
	if trigger == "" {
		if trigger = rc.dueRetry(p); trigger == "" {
			return nil, nil
		}
	}

	name, started := rc.runName(trigger, p)
	p.run = runid.Identity{
		Name:     name,
		AppID:    runid.AppID(job.Namespace, name),
		Revision: rc.revision,
		Trigger:  trigger,
		SpecHash: rc.hash,
	}
	if started {
		// The due run a stopped loop started is as new as a run started
		// now: within the API's one-second precision it must not lose the
		// last-run place to a run that ended in that second.
		if rc.adopted[name] {
			rc.startedName = name
		}
		rc.answered(p)
		return nil, nil
	}
	if rc.holdSubmission(prevAttempt, p, name) {
		return nil, nil
	}
	if err := r.render(rc, p); err != nil {
		return nil, err
	}
	return p, nil
}

// render makes the due run's objects, and how it is queued when its job
// uses Kueue (queue.go). A suspended job starts nothing (gate): its run is
// not rendered; its spec was rendered once already, on trial, when it was
// judged.
func (r *JobReconciler) render(rc *reconciliation, p *plannedRun) error {
	if rc.suspended {
		return nil
	}
	objs, err := materialize.Materialize(rc.admitted, p.run, r.opts.Materialize)
	if err != nil {
		return reconcile.TerminalError(fmt.Errorf("%w: %w", ErrInvalidSpec, err))
	}
	p.objs = objs
	p.queue, err = r.planQueue(rc.admitted)
	return err
}

// runName names the due run, and says whether it was already started. A
// spec's first run is "<job>-<8 hex of the spec hash>", as `sparkcd render`
// names it; a spec that comes back after another one (a revert) finds that
// name taken by its earlier run and gets one derived from the generation
// that brought it back. A run that failed as Interrupted never ran: when
// its trigger is still due — the tick within startingDeadlineSeconds, the
// manual request unanswered — it starts again under a name derived from
// the interrupted one.
func (rc *reconciliation) runName(trigger v1alpha1.RunTrigger, p *plannedRun) (string, bool) {
	job := rc.job
	var name string
	switch {
	case p.retry != nil:
		name = p.retry.name
	case trigger == v1alpha1.TriggerCommit:
		name = runid.RunName(job.Name, runid.Short(rc.hash))
		if rc.adopted[name] {
			return name, true
		}
		if rc.taken(name) && !rc.interruptedRun(name) {
			name = runid.RunName(job.Name, runid.DigestOf(string(job.UID), strconv.FormatInt(job.Generation, 10), rc.hash)[:8])
		}
	case trigger == v1alpha1.TriggerSchedule:
		name = runid.ScheduledRunName(job.Name, p.tick)
	default:
		name = runid.RunName(job.Name, "m"+runid.DigestOf(string(job.UID), p.request)[:runid.MaxRunSuffixLength-1])
	}
	for rc.interruptedRun(name) {
		name = runid.RunName(job.Name, "r"+runid.DigestOf(string(job.UID), name)[:runid.MaxRunSuffixLength-1])
	}
	return name, rc.taken(name)
}

// interruptedRun reports whether the run of that name failed as
// Interrupted.
func (rc *reconciliation) interruptedRun(name string) bool {
	run := rc.runs[name]
	return run != nil && run.Phase == v1alpha1.RunFailed && run.Reason == runid.ReasonInterrupted
}

// taken reports whether a run or a driver pod of that name exists.
func (rc *reconciliation) taken(name string) bool {
	return rc.runs[name] != nil || rc.pods[name] != nil
}

// answered records in the status what a started run answers, so it is not
// due again.
func (rc *reconciliation) answered(p *plannedRun) {
	st := &rc.job.Status
	if p.commit {
		st.SpecHash, st.LastAppliedRevision = rc.hash, rc.revision
	}
	if p.request != "" {
		st.LastHandledRunRequest = p.request
	}
	if !p.tick.IsZero() {
		st.LastScheduleTime = &metav1.Time{Time: p.tick}
	}
}

// gate decides whether the due run starts now: not while the job is
// suspended; under concurrencyPolicy Forbid not while another run is
// active (Replace ends those, Allow starts alongside); not while the
// driver's service account is missing or may not run executors.
func (r *JobReconciler) gate(ctx context.Context, rc *reconciliation, p *plannedRun) error {
	if rc.suspended {
		return nil
	}
	var others []string
	for _, name := range rc.active() {
		if name != p.run.Name {
			others = append(others, name)
		}
	}
	if len(others) > 0 {
		switch rc.admitted.Spec.ConcurrencyPolicy {
		case v1alpha1.AllowConcurrent:
		case v1alpha1.ReplaceConcurrent:
			p.replace = others
		default:
			rc.wait = &waiting{
				reason:  ReasonWaitingForActiveRun,
				message: fmt.Sprintf("a %s run waits for run '%s' to end (concurrencyPolicy Forbid)", p.run.Trigger, strings.Join(others, "', '")),
			}
			return nil
		}
	}
	sa := p.objs.Pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	w, err := r.access.check(ctx, rc.job, sa)
	if err != nil {
		return err
	}
	rc.wait = w
	return nil
}
