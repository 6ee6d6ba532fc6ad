package policies

import (
	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/sparkconf"
)

// Dynamic-allocation rules. Apart from dynamic-allocation-required and
// max-executors, which bounds static executors too, they judge a job only
// while dynamic allocation is on: with it off, Spark ignores the settings
// they bound.

func checkDynamicAllocationRequired(c *compiled, f *facts) ([]violation, error) {
	a, err := f.allocation()
	if err != nil || a.Dynamic {
		return nil, err
	}
	return one(daPath(f.job, daEnabled), "dynamic allocation is off, policy %q requires it", c.name), nil
}

func checkShuffleTrackingRequired(c *compiled, f *facts) ([]violation, error) {
	a, err := f.allocation()
	if err != nil || !a.Dynamic || a.ShuffleMechanism() {
		return nil, err
	}
	return one(daPath(f.job, daShuffleTracking),
		"shuffle tracking is off (and neither the shuffle service nor decommission shuffle migration is on), policy %q requires it",
		c.name), nil
}

// hasInitialWithinBounds: a policy that requires dynamic allocation or
// fills in dynamic-allocation defaults checks that the defaulted job still
// holds together, since a default can break a job that was consistent
// (a default minExecutors of 2 under a job's maxExecutors of 1).
func hasInitialWithinBounds(c *compiled) bool {
	d := c.policy.Spec.Defaults
	return c.rules.RequireDynamicAllocation || d != nil && d.DynamicAllocation != nil
}

func checkInitialWithinBounds(c *compiled, f *facts) ([]violation, error) {
	a, err := f.allocation()
	if err != nil || !a.Dynamic || a.MaxExecutors == nil {
		return nil, err
	}
	// Spark starts with the largest of minExecutors, initialExecutors and
	// spark.executor.instances, so only the upper bound can break.
	const want = "policy %q requires minExecutors <= initial executors <= maxExecutors"
	limit := *a.MaxExecutors
	switch {
	case a.MinExecutors > limit:
		return one(daPath(f.job, daMinExecutors),
			"minExecutors is %d, above maxExecutors %d: "+want, a.MinExecutors, limit, c.name), nil
	case a.InitialExecutors > limit:
		return one(initialPath(f.job, a.InitialExecutors),
			"initial executors are %d, above maxExecutors %d: "+want, a.InitialExecutors, limit, c.name), nil
	}
	return nil, nil
}

// initialPath is where the job's initial executor count comes from: the
// first of initialExecutors, spark.executor.instances and minExecutors
// that the job sets to that count.
func initialPath(job *v1alpha1.SparkJob, initial int32) string {
	da := job.Spec.DynamicAllocation
	if da == nil {
		da = &v1alpha1.DynamicAllocation{}
	}
	candidates := []struct {
		typed *int32
		key   string
		path  func() string
	}{
		{da.InitialExecutors, sparkconf.KeyInitialExecutors, func() string { return daPath(job, daInitialExecutors) }},
		{job.Spec.Executor.Instances, sparkconf.KeyExecutorInstances, func() string { return instancesPath(job) }},
		{da.MinExecutors, sparkconf.KeyMinExecutors, func() string { return daPath(job, daMinExecutors) }},
	}
	for _, c := range candidates {
		if n, ok := rawCount(job, c.typed, c.key); ok && n == initial {
			return c.path()
		}
	}
	return daPath(job, daInitialExecutors)
}

func checkMaxExecutors(c *compiled, f *facts) ([]violation, error) {
	a, err := f.allocation()
	if err != nil {
		return nil, err
	}
	limit := *c.rules.MaxExecutors
	switch {
	case !a.Dynamic && a.StaticInstances > limit:
		return one(instancesPath(f.job), "executor instances are %d, policy %q allows at most %d executors",
			a.StaticInstances, c.name, limit), nil
	case !a.Dynamic:
		return nil, nil
	case a.MaxExecutors == nil:
		return one(daPath(f.job, daMaxExecutors), "maxExecutors is unset (unbounded), policy %q allows at most %d",
			c.name, limit), nil
	case *a.MaxExecutors > limit:
		return one(daPath(f.job, daMaxExecutors), "maxExecutors is %d, policy %q allows at most %d",
			*a.MaxExecutors, c.name, limit), nil
	}
	return nil, nil
}

func checkMaxInitialExecutors(c *compiled, f *facts) ([]violation, error) {
	a, err := f.allocation()
	if err != nil || !a.Dynamic {
		return nil, err
	}
	if limit := *c.rules.MaxInitialExecutors; a.InitialExecutors > limit {
		return one(initialPath(f.job, a.InitialExecutors), "initial executors are %d, policy %q allows at most %d",
			a.InitialExecutors, c.name, limit), nil
	}
	return nil, nil
}

func checkAllocationRatio(c *compiled, f *facts) ([]violation, error) {
	a, err := f.allocation()
	if err != nil || !a.Dynamic || a.Ratio >= c.ratioMin && a.Ratio <= c.ratioMax {
		return nil, err
	}
	rr := c.rules.ExecutorAllocationRatio
	var allowed string
	switch {
	case rr.Min != "" && rr.Max != "":
		allowed = rr.Min + " to " + rr.Max
	case rr.Min != "":
		allowed = "at least " + rr.Min
	default:
		allowed = "at most " + rr.Max
	}
	return one(daPath(f.job, daRatio), "executorAllocationRatio is %s, policy %q allows %s",
		fmtRatio(a.Ratio), c.name, allowed), nil
}

func checkExecutorIdleTimeout(c *compiled, f *facts) ([]violation, error) {
	a, err := f.allocation()
	if err != nil || !a.Dynamic {
		return nil, err
	}
	if limit := c.rules.MaxExecutorIdleTimeout.Duration; a.ExecutorIdleTimeout > limit {
		return one(daPath(f.job, daIdleTimeout), "executorIdleTimeout is %s, policy %q allows at most %s",
			fmtDuration(a.ExecutorIdleTimeout), c.name, fmtDuration(limit)), nil
	}
	return nil, nil
}

func checkCachedIdleTimeout(c *compiled, f *facts) ([]violation, error) {
	a, err := f.allocation()
	if err != nil || !a.Dynamic {
		return nil, err
	}
	limit := c.rules.MaxCachedExecutorIdleTimeout.Duration
	field := daPath(f.job, daCachedIdleTimeout)
	if a.CachedExecutorIdleTimeout == nil {
		return one(field, "cachedExecutorIdleTimeout is unset (infinite: executors holding cached data are never released), policy %q allows at most %s",
			c.name, fmtDuration(limit)), nil
	}
	if *a.CachedExecutorIdleTimeout > limit {
		return one(field, "cachedExecutorIdleTimeout is %s, policy %q allows at most %s",
			fmtDuration(*a.CachedExecutorIdleTimeout), c.name, fmtDuration(limit)), nil
	}
	return nil, nil
}

// checkShuffleTrackingTimeout judges jobs that track shuffle data: without
// shuffle tracking the timeout means nothing.
func checkShuffleTrackingTimeout(c *compiled, f *facts) ([]violation, error) {
	a, err := f.allocation()
	if err != nil || !a.Dynamic || !a.ShuffleTracking {
		return nil, err
	}
	limit := c.rules.MaxShuffleTrackingTimeout.Duration
	field := daPath(f.job, daShuffleTrackingTimeout)
	if a.ShuffleTrackingTimeout == nil {
		return one(field, "shuffleTrackingTimeout is unset (infinite: executors holding shuffle data are never released), policy %q allows at most %s",
			c.name, fmtDuration(limit)), nil
	}
	if *a.ShuffleTrackingTimeout > limit {
		return one(field, "shuffleTrackingTimeout is %s, policy %q allows at most %s",
			fmtDuration(*a.ShuffleTrackingTimeout), c.name, fmtDuration(limit)), nil
	}
	return nil, nil
}
