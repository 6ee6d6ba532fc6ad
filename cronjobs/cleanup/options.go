package cleanup

import (
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/cronjobs/schedule"
)

// The cleanup's defaults.
const (
	// DefaultSchedule runs a pass every ten minutes.
	DefaultSchedule = "*/10 * * * *"
	// DefaultSucceededTTL is how long a succeeded driver is kept.
	DefaultSucceededTTL = 24 * time.Hour
	// DefaultFailedTTL is how long a failed driver is kept: longer, since
	// someone may still read its logs.
	DefaultFailedTTL = 72 * time.Hour
	// DefaultStatusHistoryLimit bounds status.history as the job loop's
	// default JobOptions.HistoryLimit does.
	DefaultStatusHistoryLimit = 10
)

// Options configure a Cleanup. Start from DefaultOptions:
// zero TTLs are taken as they are (delete as soon as finished), while the
// other zero fields fall back to their defaults.
type Options struct {
	// Schedule is the cron schedule of the passes Start runs, in TimeZone.
	Schedule string
	// TimeZone of Schedule; "" is UTC.
	TimeZone string
	// SucceededTTL and FailedTTL are how long after it finished a driver in
	// phase Succeeded or Failed is kept. A SparkJob's
	// spec.timeToLiveSeconds overrides both for its own drivers.
	SucceededTTL, FailedTTL time.Duration
	// Namespaces limits the default scope — the drivers sparkcd manages —
	// to these namespaces; empty means every namespace.
	Namespaces []string
	// Selector, when set, extends the scope to the driver pods it selects
	// in SelectorNamespaces, such as "spark-role=driver" for drivers that
	// spark-submit or the Spark Operator launched. Those drivers have no
	// SparkJob: only the global TTLs apply to them.
	Selector labels.Selector
	// SelectorNamespaces are the only namespaces Selector applies in; it
	// is required with Selector, so that widening the scope is always a
	// decision per namespace.
	SelectorNamespaces []string
	// JobSelector, when set, makes the pass one shard's (`serve
	// --watch-label-selector`): it reads only the SparkJobs it selects, and
	// of the managed drivers deletes only theirs. A driver of any other
	// SparkJob is left to that job's shard (or, when the job is gone, to
	// the garbage collector, through its ownerReference).
	JobSelector labels.Selector
	// DryRun deletes nothing and writes nothing: the report lists what a
	// pass would delete, and why.
	DryRun bool
	// Concurrency is how many writes are in flight at once.
	Concurrency int
	// QPS and Burst bound the pass's requests per second to the API
	// server, on top of the client's own limit.
	QPS   float32
	Burst int
	// PageSize is how many pods one list request returns; it bounds the
	// memory of a pass.
	PageSize int64
	// HistoryLimit is the job loop's JobOptions.HistoryLimit: a driver
	// whose run is older than every run of a history this long has been let
	// go of by the job loop, and may be deleted unrecorded.
	HistoryLimit int
	// Clock is the time source of the TTLs and of the schedule.
	Clock clock.Clock
	// Recorder emits events on the SparkJobs whose drivers a pass deletes;
	// nil emits none.
	Recorder events.EventRecorder
	// Logger logs each pass; the zero Logger takes the one in the
	// context.
	Logger logr.Logger
	// OnPass, when set, is called after each pass Start runs, with its
	// report and error.
	OnPass func(Report, error)
}

// DefaultOptions returns the defaults: a pass every ten minutes,
// succeeded drivers kept 24 hours and failed ones 72, the drivers sparkcd
// manages in every namespace, 16 concurrent writes within 200 requests per
// second (bursts of 400), pages of 500 pods.
//
// The rate is higher than a controller's usual 50 because a pass only
// catches up a backlog — the steady state is a handful of deletes every
// ten minutes — and deleting a terminal pod is among the API server's
// cheapest writes; the garbage collector that follows runs at a rate of
// its own.
func DefaultOptions() Options {
	return Options{
		Schedule:     DefaultSchedule,
		SucceededTTL: DefaultSucceededTTL,
		FailedTTL:    DefaultFailedTTL,
		Concurrency:  16,
		QPS:          200,
		Burst:        400,
		PageSize:     500,
		HistoryLimit: DefaultStatusHistoryLimit,
		Clock:        clock.RealClock{},
	}
}

// withDefaults fills the zero fields that have a default, and checks the
// rest.
func (o Options) withDefaults() (Options, error) {
	d := DefaultOptions()
	if o.Schedule == "" {
		o.Schedule = d.Schedule
	}
	if o.Concurrency <= 0 {
		o.Concurrency = d.Concurrency
	}
	if o.QPS <= 0 {
		o.QPS, o.Burst = d.QPS, max(o.Burst, d.Burst)
	}
	if o.Burst < 1 {
		o.Burst = max(1, int(o.QPS))
	}
	if o.PageSize <= 0 {
		o.PageSize = d.PageSize
	}
	if o.HistoryLimit <= 0 {
		o.HistoryLimit = d.HistoryLimit
	}
	if o.Clock == nil {
		o.Clock = d.Clock
	}
	if o.SucceededTTL < 0 || o.FailedTTL < 0 {
		return o, fmt.Errorf("%w: the TTLs must be 0 or more, not %s and %s", ErrInvalidOptions, o.SucceededTTL, o.FailedTTL)
	}
	if o.Selector != nil && !o.Selector.Empty() && len(o.SelectorNamespaces) == 0 {
		return o, fmt.Errorf("%w: selector '%s' needs the namespaces it may clean up", ErrInvalidOptions, o.Selector)
	}
	if o.Selector != nil && o.Selector.Empty() {
		return o, fmt.Errorf("%w: an empty selector would select every pod", ErrInvalidOptions)
	}
	if _, err := schedule.Parse(o.Schedule, o.TimeZone); err != nil {
		return o, fmt.Errorf("%w: cleanup schedule: %w", ErrInvalidOptions, err)
	}
	return o, nil
}

// managedDrivers selects the drivers sparkcd manages, the default scope.
var managedDrivers = labels.SelectorFromSet(labels.Set{
	v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue,
	v1alpha1.LabelSparkRole: v1alpha1.RoleDriver,
})
