package reconciler

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// Bounds of status.jobs: a source with thousands of broken jobs must not
// grow its status past what etcd takes.
const (
	maxFindingJobs   = 100
	maxFindingsOfJob = 10
)

// Event reasons on a JobSource.
const (
	EventApplied        = "Applied"
	EventPruned         = "Pruned"
	EventDriftCorrected = "DriftCorrected"
)

// sourceReconciliation is what one Reconcile call knows about one source.
type sourceReconciliation struct {
	base, src *v1alpha1.JobSource
	now       time.Time
	revision  string

	suspended bool
	// failReason is the Ready reason of a transient failure.
	failReason string
	// buildFailed says why the whole path did not build.
	buildFailed string
	// verifyFailed says why spec.verify refused the revision.
	verifyFailed string
	// pruneBlocked says why nothing was pruned.
	pruneBlocked string

	findings  []v1alpha1.JobFindings
	conflicts []v1alpha1.JobFindings
	kept      map[types.NamespacedName]bool
	// read is the inventory as read, before this reconcile recorded new
	// digests; digests are the ones this reconcile applied or found in
	// sync (inventory.go).
	read []v1alpha1.InventoryRef
	// readIndex finds an entry of read by its job (recorded).
	readIndex map[types.NamespacedName]int
	digests   map[types.NamespacedName]string
	applied   []types.NamespacedName
	pruned    []types.NamespacedName
	drifted   []driftNote
	// identity notes the writes refused to the source's identity.
	identity identityNotes
	// keptObjects is the supporting objects' inventory; appliedObjects
	// and prunedObjects count this reconcile's writes.
	keptObjects                   map[v1alpha1.SupportingRef]bool
	appliedObjects, prunedObjects int
}

type driftNote struct {
	key    types.NamespacedName
	fields []string
}

func newSourceReconciliation(src *v1alpha1.JobSource, now time.Time) *sourceReconciliation {
	return &sourceReconciliation{base: src.DeepCopy(), src: src, now: now, kept: map[types.NamespacedName]bool{},
		read: src.Status.Inventory, digests: map[types.NamespacedName]string{}, keptObjects: map[v1alpha1.SupportingRef]bool{}}
}

// fail notes the reason of a transient failure.
func (sc *sourceReconciliation) fail(reason string, _ error) { sc.failReason = reason }

// keep puts a SparkJob into the inventory.
func (sc *sourceReconciliation) keep(key types.NamespacedName) { sc.kept[key] = true }

// conflict notes a job another source owns.
func (sc *sourceReconciliation) conflict(key types.NamespacedName, owner string) {
	sc.conflicts = append(sc.conflicts, v1alpha1.JobFindings{
		ObjectRef: v1alpha1.ObjectRef{Namespace: key.Namespace, Name: key.Name},
		Findings: []v1alpha1.Finding{{Severity: v1alpha1.SeverityError, Rule: RuleOwnedByAnotherSource, Field: "metadata.name",
			Message: fmt.Sprintf("SparkJob '%s' is applied by JobSource '%s'", key, owner)}},
	})
}

// summarize sets the conditions, kstatus style, with the revision in every
// message: Reconciling while a transient failure is retried, Stalled when
// only a new commit (or an override) can help the source as a whole,
// Ready otherwise — also when some jobs were rejected: a rejected job is
// a finding of the source (status.jobs, reason JobsRejected, a warning
// event, sparkcd_source_findings) and a failure of that job
// (SourceRejected), not a failure of the source that applied the others.
// A revision whose every job and object was rejected, with none in sync,
// is Stalled: the source delivers nothing.
func (r *SourceReconciler) summarize(sc *sourceReconciliation, err error) {
	src := sc.src
	st := &src.Status
	if req := src.Annotations[AnnotationReconcileRequestedAt]; req != "" {
		st.LastHandledReconcileAt = req
	}
	if sc.suspended {
		markReady(src, meta.SuspendedReason, "suspended: nothing is fetched or applied until spec.suspend is false")
		return
	}
	if err != nil {
		reason := sc.failReason
		if reason == "" {
			reason = meta.ReconciliationFailedReason
		}
		msg := err.Error()
		if sc.revision != "" {
			msg = fmt.Sprintf("revision %s: %s", sc.revision, msg)
		}
		if st.LastAppliedRevision != "" {
			msg += fmt.Sprintf(" (revision %s stays applied)", st.LastAppliedRevision)
		}
		msg = boundMessage(msg)
		conditions.MarkReconciling(src, meta.ProgressingWithRetryReason, "%s", msg)
		conditions.MarkFalse(src, meta.ReadyCondition, reason, "%s", msg)
		return
	}
	st.ObservedGeneration = src.Generation
	if sc.verifyFailed != "" {
		msg := sc.verifyFailed
		if st.LastAppliedRevision != "" {
			msg += fmt.Sprintf(" (revision %s stays applied)", st.LastAppliedRevision)
		}
		stallSource(src, ReasonVerificationFailed, msg)
		return
	}
	if sc.buildFailed != "" {
		msg := sc.buildFailed
		if st.LastAppliedRevision != "" {
			msg += fmt.Sprintf(" (revision %s stays applied)", st.LastAppliedRevision)
		}
		stallSource(src, ReasonBuildFailed, msg)
		return
	}
	st.Jobs = boundFindings(append(append([]v1alpha1.JobFindings(nil), sc.findings...), sc.conflicts...))
	rejected := countRejected(st.Jobs)
	switch {
	case sc.pruneBlocked != "":
		stallSource(src, ReasonPruneBlocked, sc.pruneBlocked)
	case sc.identity.reason != "":
		stallSource(src, sc.identity.reason, sc.identity.summary(sc.revision))
	case rejected > 0:
		msg := fmt.Sprintf("applied revision %s: %d SparkJobs in sync%s, %d jobs rejected (see status.jobs)%s", sc.revision, len(sc.kept), objectsNote(sc), rejected, decryptionNote(st.Jobs))
		if len(sc.kept)+len(sc.keptObjects) == 0 {
			// Nothing of the revision runs: the source as a whole failed.
			stallSource(src, ReasonJobsRejected, msg)
			return
		}
		markReady(src, ReasonJobsRejected, msg)
	default:
		markReady(src, meta.SucceededReason, fmt.Sprintf("applied revision %s: %d SparkJobs%s", sc.revision, len(sc.kept), objectsNote(sc)))
	}
}

// objectsNote is ", N supporting objects" when the source has any.
func objectsNote(sc *sourceReconciliation) string {
	if n := len(sc.src.Status.SupportingInventory); n > 0 {
		return fmt.Sprintf(", %d supporting objects", n)
	}
	return ""
}

// stallSource marks the source Stalled and not Ready for the same reason.
func stallSource(src *v1alpha1.JobSource, reason, msg string) {
	msg = boundMessage(msg)
	conditions.MarkStalled(src, reason, "%s", msg)
	conditions.MarkFalse(src, meta.ReadyCondition, reason, "%s", msg)
}

// countRejected counts the jobs with an error finding.
func countRejected(jobs []v1alpha1.JobFindings) int {
	n := 0
	for _, j := range jobs {
		for _, f := range j.Findings {
			if f.Severity == v1alpha1.SeverityError {
				n++
				break
			}
		}
	}
	return n
}

// boundFindings keeps at most maxFindingJobs jobs with at most
// maxFindingsOfJob findings each, the jobs with errors first.
func boundFindings(jobs []v1alpha1.JobFindings) []v1alpha1.JobFindings {
	var errs, warns []v1alpha1.JobFindings
	for _, j := range jobs {
		if countRejected([]v1alpha1.JobFindings{j}) > 0 {
			errs = append(errs, j)
		} else {
			warns = append(warns, j)
		}
	}
	all := append(errs, warns...)
	if len(all) > maxFindingJobs {
		all = all[:maxFindingJobs]
	}
	for i := range all {
		if len(all[i].Findings) > maxFindingsOfJob {
			all[i].Findings = all[i].Findings[:maxFindingsOfJob]
		}
	}
	if len(all) == 0 {
		return nil
	}
	return all
}

// emitSource sends the events of a reconcile: what it applied, pruned and
// corrected, and a warning when the Ready condition turns to a new failure
// or to a new set of rejected jobs.
func (r *SourceReconciler) emitSource(sc *sourceReconciliation) {
	src := sc.src
	for _, d := range sc.drifted {
		// The drifted SparkJob is the event's related object: events.k8s.io
		// folds events that differ only in their note into the series of
		// the first, so without it the drift of a second job would be
		// counted under the first job's message and never named.
		job := &v1alpha1.SparkJob{
			TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: v1alpha1.SparkJobKind},
			ObjectMeta: metav1.ObjectMeta{Namespace: d.key.Namespace, Name: d.key.Name},
		}
		r.recorder.Eventf(src, job, corev1.EventTypeWarning, EventDriftCorrected, "Apply",
			"SparkJob '%s' was changed outside git; restored revision %s: %s", d.key, sc.revision, fieldList(d.fields))
	}
	if len(sc.applied) > 0 {
		r.recorder.Eventf(src, nil, corev1.EventTypeNormal, EventApplied, "Apply", "revision %s: applied %d SparkJobs", sc.revision, len(sc.applied))
	}
	if sc.appliedObjects > 0 {
		r.recorder.Eventf(src, nil, corev1.EventTypeNormal, EventApplied, "Apply", "revision %s: applied %d supporting objects", sc.revision, sc.appliedObjects)
	}
	if sc.prunedObjects > 0 {
		r.recorder.Eventf(src, nil, corev1.EventTypeNormal, EventPruned, "Prune", "revision %s: pruned %d supporting objects", sc.revision, sc.prunedObjects)
	}
	if len(sc.pruned) > 0 {
		r.recorder.Eventf(src, nil, corev1.EventTypeNormal, EventPruned, "Prune", "revision %s: pruned %d SparkJobs", sc.revision, len(sc.pruned))
	}
	ready := conditions.Get(src, meta.ReadyCondition)
	before := conditions.Get(sc.base, meta.ReadyCondition)
	warn := ready != nil && (ready.Status == metav1.ConditionFalse || ready.Reason == ReasonJobsRejected)
	if warn && (before == nil || before.Reason != ready.Reason || before.Message != ready.Message) {
		r.recorder.Eventf(src, nil, corev1.EventTypeWarning, ready.Reason, "Reconcile", "%s", ready.Message)
	}
}
