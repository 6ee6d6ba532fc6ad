package reconciler

import (
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

// reconciliation is what one Reconcile call knows about one job.
type reconciliation struct {
	// base is the job as read; job is the same job whose status is being
	// rewritten.
	base, job *v1alpha1.SparkJob
	// admitted is the job with SetDefaults and the policies applied; hash
	// is its spec hash.
	admitted *v1alpha1.SparkJob
	hash     string
	// revision is the source revision of the job's spec, from its
	// sparkcd.io/revision annotation.
	revision string
	now      time.Time
	// listedBy are the JobSources' inventory entries of the job (drift.go):
	// none for a job made by hand.
	listedBy []listing

	// runs are every run known, by name: from the status read and from
	// the driver pods.
	runs map[string]*v1alpha1.RunStatus
	// read is set once the runs the status named are loaded; until then
	// the status's runs are left as they are.
	read bool
	// recorded are the runs the status read named.
	recorded map[string]bool
	// wasActive are the runs the status read listed as active.
	wasActive map[string]bool
	// adopted are runs whose driver the status did not name yet: a loop
	// stopped between the driver's create and the status write. They are
	// completed and recorded now.
	adopted map[string]bool
	// pods are the driver pods of the job, by run name.
	pods map[string]*corev1.Pod
	// interrupted is set when a half-made run could not be completed and
	// was failed: the status that records it is written before any run
	// starts.
	interrupted bool

	// drift is set when a job that a JobSource manages no longer has the
	// spec the source applied: no run starts (drift.go).
	drift *waiting
	// statusRepaired is set when the status said a spec that already ran
	// had not, and was put right (drift.go).
	statusRepaired bool
	// suspended is set when spec.suspend is: no run starts.
	suspended bool
	// wait says why a due run cannot start yet.
	wait *waiting
	// retry is set while spec.restartPolicy's next attempt is not due yet.
	retry *waiting
	// nextTick is the job's next schedule tick, zero without one.
	nextTick time.Time
	// settled is set once this generation's spec is in effect: its run
	// started or none was due.
	settled bool
	// startedName is the run this reconcile started, or the due run a
	// stopped loop had started and this reconcile adopted.
	startedName string
	// events are sent once the status that reports them is written.
	events []runEvent
	// started counts runs started, by trigger, for the metrics.
	started []v1alpha1.RunTrigger

	// Runtime limits (limits.go): judged is set when a policy sets one;
	// limitFindings are the limits the active runs broke; nextLimit is
	// when the first limit not reached yet will be.
	judged        bool
	limitFindings []limitFinding
	nextLimit     time.Time
}

// waiting is a due run that cannot start yet.
type waiting struct {
	reason, message string
	// retry is when to look again; zero waits for a watch event.
	retry time.Duration
	// quiet: no warning event, nobody did anything wrong.
	quiet bool
}

func newReconciliation(job *v1alpha1.SparkJob, now time.Time) *reconciliation {
	return &reconciliation{
		base:      job.DeepCopy(),
		job:       job,
		revision:  job.Annotations[v1alpha1.AnnotationRevision],
		now:       now,
		runs:      map[string]*v1alpha1.RunStatus{},
		recorded:  map[string]bool{},
		wasActive: map[string]bool{},
		adopted:   map[string]bool{},
		pods:      map[string]*corev1.Pod{},
	}
}

// requeueAfter is when the job must be looked at again without an event:
// at the next schedule tick, when a wait asks for a retry, or at the time
// of the restart policy's next attempt.
func (rc *reconciliation) requeueAfter() time.Duration {
	var d time.Duration
	if !rc.nextTick.IsZero() {
		d = max(rc.nextTick.Sub(rc.now), time.Second)
	}
	for _, w := range []*waiting{rc.wait, rc.retry} {
		if w != nil && w.retry > 0 && (d == 0 || w.retry < d) {
			d = w.retry
		}
	}
	if !rc.nextLimit.IsZero() {
		if l := max(rc.nextLimit.Sub(rc.now), minRetryDelay); d == 0 || l < d {
			d = l
		}
	}
	return d
}

// timestamp is now at the precision the API stores, so a value written
// once compares equal when read back.
func (rc *reconciliation) timestamp() *metav1.Time {
	t := metav1.NewTime(rc.now.Truncate(time.Second))
	return &t
}

// readRecorded loads the runs the status names.
func (rc *reconciliation) readRecorded() {
	rc.read = true
	st := &rc.job.Status
	for i := range st.History {
		run := st.History[i].DeepCopy()
		rc.runs[run.Name] = run
		rc.recorded[run.Name] = true
	}
	if st.LastRun != nil {
		rc.runs[st.LastRun.Name] = st.LastRun.DeepCopy()
		rc.recorded[st.LastRun.Name] = true
	}
	for _, name := range st.ActiveRuns {
		rc.recorded[name] = true
		rc.wasActive[name] = true
		if _, ok := rc.runs[name]; !ok {
			rc.runs[name] = &v1alpha1.RunStatus{Name: name, Phase: v1alpha1.RunPending}
		}
	}
}

// writeRuns sets lastRun, activeRuns and history from the runs known:
// lastRun is the newest run, activeRuns the unfinished ones oldest first,
// history the finished ones newest first, at most limit.
func (rc *reconciliation) writeRuns(limit int) {
	if !rc.read {
		return
	}
	all := make([]*v1alpha1.RunStatus, 0, len(rc.runs))
	for _, run := range rc.runs {
		all = append(all, run)
	}
	sort.Slice(all, func(i, j int) bool { return runid.Newer(all[i], all[j]) })

	st := &rc.job.Status
	previous := ""
	if st.LastRun != nil {
		previous = st.LastRun.Name
	}
	st.LastRun, st.ActiveRuns, st.History = nil, nil, nil
	if len(all) == 0 {
		return
	}
	st.LastRun = rc.lastRun(all, previous).DeepCopy()
	for i := len(all) - 1; i >= 0; i-- {
		if !runid.Finished(all[i]) {
			st.ActiveRuns = append(st.ActiveRuns, all[i].Name)
		}
	}
	for _, run := range all {
		if runid.Finished(run) && len(st.History) < limit {
			st.History = append(st.History, *run.DeepCopy())
		}
	}
}

// lastRun picks the newest of the runs, sorted newest first. Start times
// have the API's one-second precision, so runs started within the same
// second are told apart by what is known: the run this reconcile started,
// else the last run the status named, unless a run started later.
func (rc *reconciliation) lastRun(sorted []*v1alpha1.RunStatus, previous string) *v1alpha1.RunStatus {
	if run := rc.runs[rc.startedName]; run != nil {
		return run
	}
	if run := rc.runs[previous]; run != nil && run.StartTime != nil &&
		(sorted[0].StartTime == nil || !sorted[0].StartTime.After(run.StartTime.Time)) {
		return run
	}
	return sorted[0]
}

// newestRecordedStart is the start time of the newest run the status named.
func (rc *reconciliation) newestRecordedStart() time.Time {
	var t time.Time
	for name := range rc.recorded {
		if run := rc.runs[name]; run != nil && run.StartTime != nil && run.StartTime.After(t) {
			t = run.StartTime.Time
		}
	}
	return t
}

// active returns the names of the runs whose driver has not ended.
func (rc *reconciliation) active() []string {
	var names []string
	for name, run := range rc.runs {
		if !runid.Finished(run) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}
