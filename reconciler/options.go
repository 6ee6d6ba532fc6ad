package reconciler

import (
	"time"

	"k8s.io/utils/clock"

	"github.com/sparkcd/sparkcd/admission"
	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/materialize"
)

// FieldManager is the field manager of every write sparkcd makes.
const FieldManager = v1alpha1.FieldManager

// Scheduler decides when a scheduled job's runs are due; the job loop asks
// it on every reconcile of a job with spec.schedule, and requeues the job
// for the next tick. The cron package implements it.
type Scheduler interface {
	// Due returns the schedule tick whose run should start now — the latest
	// tick after last and at or before now that is still within the job's
	// startingDeadlineSeconds — or the zero time when none is; and the first
	// tick after now. last is the tick of the job's last scheduled run, or
	// its creation time. An error means the schedule cannot be read.
	Due(job *v1alpha1.SparkJob, last, now time.Time) (tick, next time.Time, err error)
}

// JobOptions configure the job loop.
type JobOptions struct {
	// Policies are the allocation policies every job is judged against
	// before each run; nil judges without policies.
	Policies admission.Policies
	// Scheduler decides schedule ticks; nil leaves jobs with a schedule to
	// manual runs only, and says so in their Ready condition.
	Scheduler Scheduler
	// Materialize are the options runs are rendered with.
	Materialize materialize.Options
	// HistoryLimit bounds status.history.
	HistoryLimit int
	// Identity says whose identity the runs' writes are sent with
	// (run_identity.go).
	Identity IdentityOptions
	// MaxConcurrentReconciles is how many jobs are reconciled at once.
	MaxConcurrentReconciles int
	// SkipDriverAccessReview turns off the SubjectAccessReviews that check,
	// before a run starts, that the driver's service account may create
	// executor pods. Turn it off only where sparkcd may not create
	// SubjectAccessReviews.
	SkipDriverAccessReview bool
	// DisableRunInsight turns off the executor bookkeeping (insight.go):
	// executor events are not recorded and runs get no status insight.
	// BenchmarkRunInsightCost measures the loop without it.
	DisableRunInsight bool
	// Clock is the time source; tests set a fake one.
	Clock clock.PassiveClock
}

// DefaultJobOptions returns the job loop's defaults.
func DefaultJobOptions() JobOptions {
	return JobOptions{
		Materialize:             materialize.DefaultOptions(),
		HistoryLimit:            10,
		MaxConcurrentReconciles: 64,
		Clock:                   clock.RealClock{},
	}
}

// withDefaults fills the zero fields of o from DefaultJobOptions.
func (o JobOptions) withDefaults() JobOptions {
	d := DefaultJobOptions()
	if o.Materialize.MasterURL == "" {
		o.Materialize = d.Materialize
	}
	if o.HistoryLimit <= 0 {
		o.HistoryLimit = d.HistoryLimit
	}
	if o.MaxConcurrentReconciles <= 0 {
		o.MaxConcurrentReconciles = d.MaxConcurrentReconciles
	}
	if o.Clock == nil {
		o.Clock = d.Clock
	}
	return o
}
