package sparkconf

import (
	"fmt"
	"time"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// Allocation is how Spark will allocate a job's executors.
type Allocation struct {
	// Dynamic is spark.dynamicAllocation.enabled.
	Dynamic bool
	// MinExecutors is spark.dynamicAllocation.minExecutors (default 0).
	MinExecutors int32
	// InitialExecutors is the count Spark starts with under dynamic
	// allocation: the largest of minExecutors, initialExecutors and
	// spark.executor.instances, as Spark's
	// getDynamicAllocationInitialExecutors computes it.
	InitialExecutors int32
	// MaxExecutors is spark.dynamicAllocation.maxExecutors; nil is
	// infinity (Spark's default).
	MaxExecutors *int32
	// Ratio is spark.dynamicAllocation.executorAllocationRatio (default 1).
	Ratio float64
	// ExecutorIdleTimeout defaults to 60s.
	ExecutorIdleTimeout time.Duration
	// CachedExecutorIdleTimeout is nil for infinity.
	CachedExecutorIdleTimeout *time.Duration
	// SchedulerBacklogTimeout defaults to 1s.
	SchedulerBacklogTimeout time.Duration
	// ShuffleTracking is spark.dynamicAllocation.shuffleTracking.enabled
	// (default true for sparkVersion >= 3.4 or unset, false before).
	ShuffleTracking bool
	// ShuffleTrackingTimeout is nil for infinity.
	ShuffleTrackingTimeout *time.Duration
	// ShuffleService is spark.shuffle.service.enabled.
	ShuffleService bool
	// DecommissionMigration is spark.decommission.enabled with
	// spark.storage.decommission.enabled and
	// spark.storage.decommission.shuffleBlocks.enabled (default true): shuffle
	// blocks move off an executor before it goes.
	DecommissionMigration bool
	// StaticInstances is spark.executor.instances; unset, 2 as in Spark when
	// dynamic allocation is off and 0 when it is on.
	StaticInstances int32
	// PeakExecutors is MaxExecutors when dynamic (nil = unbounded), else
	// StaticInstances.
	PeakExecutors *int32
}

// StartExecutors is how many executors the driver asks for as it starts:
// InitialExecutors with dynamic allocation, StaticInstances without. A
// batch scheduler's gang is the driver and these (as the Spark Operator's
// GetInitialExecutorNumber counts them).
func (a Allocation) StartExecutors() int32 {
	if a.Dynamic {
		return a.InitialExecutors
	}
	return a.StaticInstances
}

// ShuffleMechanism reports whether dynamic allocation has a way to keep
// shuffle data when it releases executors: shuffle tracking, the external
// shuffle service or decommissioning with shuffle-block migration. Spark
// refuses to start dynamic allocation without one.
func (a Allocation) ShuffleMechanism() bool {
	return a.ShuffleTracking || a.ShuffleService || a.DecommissionMigration
}

// EffectiveAllocation reads the allocation from JobProperties, so sparkConf
// entries count exactly as Spark would see them.
func EffectiveAllocation(job *v1alpha1.SparkJob) (Allocation, error) {
	p, err := JobProperties(job)
	if err != nil {
		return Allocation{}, err
	}
	r := reader{p: p}
	a := Allocation{
		Dynamic:                 r.bool(KeyDynamicAllocationEnabled, false),
		MinExecutors:            r.int32(KeyMinExecutors, 0),
		Ratio:                   r.float(KeyExecutorAllocationRatio, 1),
		ExecutorIdleTimeout:     r.duration(KeyExecutorIdleTimeout, time.Second, 60*time.Second),
		SchedulerBacklogTimeout: r.duration(KeySchedulerBacklogTimeout, time.Second, time.Second),
		ShuffleTracking:         r.bool(KeyShuffleTrackingEnabled, AtLeast(job.Spec.SparkVersion, 3, 4)),
		ShuffleService:          r.bool(KeyShuffleServiceEnabled, false),
	}
	initial := r.int32(KeyInitialExecutors, a.MinExecutors)
	if _, ok := p[KeyMaxExecutors]; ok {
		m := r.int32(KeyMaxExecutors, 0)
		a.MaxExecutors = &m
	}
	a.CachedExecutorIdleTimeout = r.optDuration(KeyCachedExecutorIdleTimeout, time.Second)
	a.ShuffleTrackingTimeout = r.optDuration(KeyShuffleTrackingTimeout, time.Millisecond)
	a.DecommissionMigration = r.bool(KeyDecommissionEnabled, false) &&
		r.bool(KeyStorageDecommissionEnabled, false) &&
		r.bool(KeyStorageDecommissionShuffle, true)

	_, instancesSet := p[KeyExecutorInstances]
	instances := r.int32(KeyExecutorInstances, 0)
	switch {
	case instancesSet:
		a.StaticInstances = instances
	case !a.Dynamic:
		a.StaticInstances = DefaultExecutorInstances
	}
	a.InitialExecutors = max(a.MinExecutors, initial, instances)
	if a.Dynamic {
		a.PeakExecutors = a.MaxExecutors
	} else {
		peak := a.StaticInstances
		a.PeakExecutors = &peak
	}
	if r.err != nil {
		return Allocation{}, r.err
	}
	return a, nil
}

// reader reads typed values from properties, keeping the first error.
type reader struct {
	p   map[string]string
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) bool(key string, def bool) bool {
	v, ok := r.p[key]
	if !ok {
		return def
	}
	b, err := parseBool(key, v)
	if err != nil {
		r.fail(err)
	}
	return b
}

func (r *reader) int32(key string, def int32) int32 {
	v, ok := r.p[key]
	if !ok {
		return def
	}
	n, err := parseInt32(key, v)
	if err != nil {
		r.fail(err)
	}
	return n
}

func (r *reader) float(key string, def float64) float64 {
	v, ok := r.p[key]
	if !ok {
		return def
	}
	f, err := parseFloat(key, v)
	if err != nil {
		r.fail(err)
	}
	return f
}

func (r *reader) duration(key string, unit, def time.Duration) time.Duration {
	if d := r.optDuration(key, unit); d != nil {
		return *d
	}
	return def
}

func (r *reader) optDuration(key string, unit time.Duration) *time.Duration {
	v, ok := r.p[key]
	if !ok {
		return nil
	}
	d, err := ParseDuration(v, unit)
	if err != nil {
		r.fail(fmt.Errorf("invalid '%s': %w", key, err))
		return nil
	}
	return &d
}
