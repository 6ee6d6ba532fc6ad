package cleanup

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/flowcontrol"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

// Cleanup deletes the driver pods of finished runs: those whose time to
// live has passed, and those beyond their job's run history limits.
type Cleanup struct {
	client  client.Client
	opts    Options
	limiter flowcontrol.RateLimiter
}

// New returns a Cleanup that reads and writes through c. c must read
// from the API server, not from a cache: a pass lists pods page by page
// (Limit and Continue), which keeps its memory bounded however many
// drivers there are, and a cache could only hold them all. Its writes carry
// the field manager "sparkcd".
func New(c client.Client, opts Options) (*Cleanup, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Cleanup{
		client:  client.WithFieldOwner(c, v1alpha1.FieldManager),
		opts:    opts,
		limiter: flowcontrol.NewTokenBucketRateLimiter(opts.QPS, opts.Burst),
	}, nil
}

// Options returns the options in effect, defaults filled in.
func (c *Cleanup) Options() Options { return c.opts }

// candidate is a finished driver pod in scope, reduced to what a pass
// needs, so that a pass holds a few hundred bytes per driver rather than
// whole pods.
type candidate struct {
	namespace, name string
	uid             types.UID
	// job is the SparkJob that owns the driver, if any.
	job      types.UID
	jobName  string
	phase    corev1.PodPhase
	finished time.Time
	// run is the run the driver belongs to (its name and start); set only
	// for drivers with a SparkJob.
	run *v1alpha1.RunStatus
}

// jobLimits is what a pass needs of a SparkJob.
type jobLimits struct {
	namespace, name string
	ttl             *time.Duration
	succeeded       int
	failed          int
	// active are the runs the job loop lists as active: it has not
	// recorded their end yet, so their drivers wait for a later pass.
	active map[string]bool
	// history are the runs of status.history, whose drivers may go.
	history map[string]bool
	// oldest is the oldest run of a full history (as long as the job
	// loop's HistoryLimit): an older run is one the job loop let go of.
	oldest *v1alpha1.RunStatus
}

// recorded reports whether the job loop is done with a run: it is not
// active, and status.history has it or is full of newer runs. The job loop
// is the one writer of status.history; the cleanup only reads it, and a
// finished run that is not recorded yet keeps its driver until a later
// pass, so no run ends unrecorded.
func (l *jobLimits) recorded(run *v1alpha1.RunStatus) bool {
	switch {
	case l.active[run.Name]:
		return false
	case l.history[run.Name]:
		return true
	}
	return l.oldest != nil && runid.Newer(l.oldest, run)
}

// RunOnce runs one pass: it lists the finished drivers in scope, decides
// which to delete — of a SparkJob's drivers, only those whose run the job
// loop has recorded in status.history — and deletes them with background
// propagation. Running and pending
// drivers are never listed, let alone deleted. The error joins every
// failure; the report says what was deleted all the same.
func (c *Cleanup) RunOnce(ctx context.Context) (Report, error) {
	start := c.opts.Clock.Now()
	began := time.Now()
	rep := Report{DryRun: c.opts.DryRun, Started: start}
	log := c.logger(ctx)

	jobs, err := c.listJobs(ctx)
	if err != nil {
		passErrors.WithLabelValues("list").Inc()
		return rep, err
	}
	drivers, err := c.listDrivers(ctx)
	if err != nil {
		passErrors.WithLabelValues("list").Inc()
		return rep, err
	}
	removals, kept := c.decide(drivers, jobs, start)
	rep.Kept = kept

	var errs []error
	if c.opts.DryRun {
		rep.Deleted = removals
	} else {
		rep.Deleted, errs = c.execute(ctx, removals, jobs)
	}
	sortRemovals(rep.Deleted)
	rep.Errors = len(errs)
	rep.Duration = time.Since(began)
	observePass(rep)
	log.Info("cleanup pass", "dryRun", rep.DryRun, "deleted", len(rep.Deleted), "kept", rep.Kept, "errors", rep.Errors, "duration", rep.Duration)
	return rep, errors.Join(errs...)
}

// decide picks the drivers to delete. Per SparkJob and per phase, the
// newest successfulRunHistoryLimit (failedRunHistoryLimit) drivers may
// stay, the older ones go; of those that may stay, the ones older than
// their TTL go too. Both limits are ceilings, as a CronJob's history limits
// and a Job's ttlSecondsAfterFinished are: a driver is kept only while
// both allow it.
func (c *Cleanup) decide(drivers []candidate, jobs map[types.UID]jobLimits, now time.Time) ([]Removal, int) {
	byJob := map[types.UID][]*candidate{}
	var removals []Removal
	kept := 0
	for i := range drivers {
		d := &drivers[i]
		if _, ok := jobs[d.job]; d.job != "" && ok {
			byJob[d.job] = append(byJob[d.job], d)
			continue
		}
		if d.job != "" && c.opts.JobSelector != nil {
			// Another shard's job (Options.JobSelector).
			continue
		}
		if r, ok := c.expired(d, nil, now); ok {
			removals = append(removals, r)
		} else {
			kept++
		}
	}
	for uid, ds := range byJob {
		job := jobs[uid]
		sort.Slice(ds, func(i, j int) bool {
			if !ds[i].finished.Equal(ds[j].finished) {
				return ds[i].finished.After(ds[j].finished)
			}
			return ds[i].name > ds[j].name
		})
		seen := map[corev1.PodPhase]int{}
		for _, d := range ds {
			if d.run != nil && !job.recorded(d.run) {
				kept++
				continue
			}
			limit := job.succeeded
			field := "successfulRunHistoryLimit"
			if d.phase == corev1.PodFailed {
				limit, field = job.failed, "failedRunHistoryLimit"
			}
			seen[d.phase]++
			if n := seen[d.phase]; n > limit {
				removals = append(removals, c.removal(d, ReasonHistoryLimit,
					fmt.Sprintf("%s run number %d from the newest of SparkJob '%s', %s is %d", phaseWord(d.phase), n, job.name, field, limit)))
				continue
			}
			if r, ok := c.expired(d, job.ttl, now); ok {
				removals = append(removals, r)
			} else {
				kept++
			}
		}
	}
	return removals, kept
}

// expired returns the removal of a driver whose TTL has passed.
func (c *Cleanup) expired(d *candidate, jobTTL *time.Duration, now time.Time) (Removal, bool) {
	ttl, source := c.opts.SucceededTTL, "the succeeded TTL"
	if d.phase == corev1.PodFailed {
		ttl, source = c.opts.FailedTTL, "the failed TTL"
	}
	if jobTTL != nil {
		ttl, source = *jobTTL, "spec.timeToLiveSeconds"
	}
	age := now.Sub(d.finished)
	if age < ttl {
		return Removal{}, false
	}
	return c.removal(d, ReasonTTLExpired, fmt.Sprintf("finished %s ago, %s is %s", age.Truncate(time.Second), source, ttl)), true
}

func (c *Cleanup) removal(d *candidate, reason Reason, detail string) Removal {
	return Removal{
		Namespace:  d.namespace,
		Pod:        d.name,
		Job:        d.jobName,
		Phase:      d.phase,
		FinishedAt: d.finished,
		Reason:     reason,
		Detail:     detail,
		uid:        d.uid,
		jobUID:     d.job,
		run:        d.run,
	}
}

func phaseWord(p corev1.PodPhase) string {
	if p == corev1.PodFailed {
		return "failed"
	}
	return "succeeded"
}

// logger is the options' logger, else the context's.
func (c *Cleanup) logger(ctx context.Context) logr.Logger {
	if c.opts.Logger.GetSink() != nil {
		return c.opts.Logger
	}
	return logr.FromContextOrDiscard(ctx)
}

// wait takes a token of the pass's rate limit.
func (c *Cleanup) wait(ctx context.Context) error {
	if err := c.limiter.Wait(ctx); err != nil {
		return fmt.Errorf("cleanup rate limit: %w", err)
	}
	return nil
}
