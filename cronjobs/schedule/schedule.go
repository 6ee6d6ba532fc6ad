package schedule

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	// Time zones come from the embedded IANA database, so a schedule means
	// the same on every host, distroless images included.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// parser reads schedules as Kubernetes CronJob does, and as render's
// validation does: five fields, or a descriptor such as @daily or @every 3m.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Parse reads a cron schedule in a time zone: five fields or a
// descriptor, in the IANA zone timeZone ("" is UTC). The zone goes in
// through CRON_TZ, so a SpecSchedule carries it as its Location. A schedule
// that names its own zone (CRON_TZ= or TZ=) is refused, as render's
// validation refuses it: the zone belongs in spec.timeZone, where one field
// says it.
func Parse(schedule, timeZone string) (cron.Schedule, error) {
	s := strings.TrimSpace(schedule)
	if s == "" {
		return nil, fmt.Errorf("%w: the schedule is empty", ErrInvalidSchedule)
	}
	if strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=") {
		return nil, fmt.Errorf("%w: '%s' carries its own time zone: set the time zone apart", ErrInvalidSchedule, s)
	}
	if err := checkEvery(s); err != nil {
		return nil, err
	}
	loc, err := location(timeZone)
	if err != nil {
		return nil, err
	}
	sched, err := parser.Parse("CRON_TZ=" + loc.String() + " " + s)
	if err != nil {
		return nil, fmt.Errorf("%w: '%s': %w", ErrInvalidSchedule, s, err)
	}
	return sched, nil
}

// checkEvery refuses "@every" with a duration of zero or less: robfig/cron
// silently raises any interval below a second to one second, so a typo such
// as "@every -1h" would start a run every second.
func checkEvery(s string) error {
	rest, ok := strings.CutPrefix(s, "@every ")
	if !ok {
		return nil
	}
	if d, err := time.ParseDuration(strings.TrimSpace(rest)); err == nil && d <= 0 {
		return fmt.Errorf("%w: '%s': the interval must be positive", ErrInvalidSchedule, s)
	}
	return nil
}

// location loads an IANA time zone; "Local" is refused, since it would
// make a job's ticks depend on the host sparkcd runs on.
func location(tz string) (*time.Location, error) {
	if tz == "" {
		return time.UTC, nil
	}
	if tz == "Local" {
		return nil, fmt.Errorf("%w: time zone 'Local' depends on the host: name an IANA zone such as 'Europe/Paris'", ErrInvalidSchedule)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("%w: unknown time zone '%s'", ErrInvalidSchedule, tz)
	}
	return loc, nil
}

// Scheduler decides the schedule ticks of SparkJobs as Kubernetes CronJob
// does. It keeps no state about jobs: everything it needs is in the job
// and in the last tick the job loop recorded, so any replica answers the
// same. It is safe for concurrent use.
type Scheduler struct {
	opts  options
	mu    sync.RWMutex
	cache map[scheduleKey]parsed
}

type scheduleKey struct{ schedule, timeZone string }

type parsed struct {
	sched cron.Schedule
	err   error
}

// Option configures a Scheduler.
type Option func(*options)

type options struct {
	cacheSize int
}

// WithCacheSize bounds how many parsed schedules are kept, by (schedule,
// timeZone); the default is 4096. A full cache starts over, so the bound
// holds without bookkeeping on the hot path.
func WithCacheSize(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.cacheSize = n
		}
	}
}

// NewScheduler returns a Scheduler.
func NewScheduler(opts ...Option) *Scheduler {
	o := options{cacheSize: 4096}
	for _, opt := range opts {
		opt(&o)
	}
	return &Scheduler{opts: o, cache: map[scheduleKey]parsed{}}
}

// Parse returns the job's schedule in its time zone, from the cache when it
// was read before. Errors are cached too: an invalid schedule stays
// invalid until the spec changes.
func (s *Scheduler) Parse(schedule, timeZone string) (cron.Schedule, error) {
	key := scheduleKey{schedule, timeZone}
	s.mu.RLock()
	p, ok := s.cache[key]
	s.mu.RUnlock()
	if ok {
		return p.sched, p.err
	}
	p.sched, p.err = Parse(schedule, timeZone)
	s.mu.Lock()
	if len(s.cache) >= s.opts.cacheSize {
		clear(s.cache)
	}
	s.cache[key] = p
	s.mu.Unlock()
	return p.sched, p.err
}

// Due implements the job loop's Scheduler. The tick is the latest one after
// last and at or before now, when it is within the job's
// startingDeadlineSeconds (always, without one): however many ticks were
// missed, at most that one runs, never a burst. next is the first tick
// after now and after last. Suspension is not Due's concern: the job loop keeps a
// suspended job's due tick from starting, and asks again on resume, when
// the deadline decides whether that tick may still run — as for a CronJob.
func (s *Scheduler) Due(job *v1alpha1.SparkJob, last, now time.Time) (tick, next time.Time, err error) {
	sched, err := s.Parse(job.Spec.Schedule, job.Spec.TimeZone)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	// A tick at or before last never runs: next is after both. They
	// differ when the job was created (last) by an API server whose clock
	// is ahead of sparkcd's (now), at an hour's turn, say.
	next = sched.Next(later(now, last))
	if next.IsZero() {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: '%s' has no tick within five years", ErrNeverFires, job.Spec.Schedule)
	}
	tick = LatestTick(sched, last, now)
	if tick.IsZero() {
		return time.Time{}, next, nil
	}
	if d := job.Spec.StartingDeadlineSeconds; d != nil && tick.Add(time.Duration(*d)*time.Second).Before(now) {
		return time.Time{}, next, nil
	}
	return tick, next, nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// LatestTick returns the latest tick of sched after last and at or before
// now, or the zero time when there is none. It never walks the missed ticks
// one by one — a job down for a year on "* * * * *" missed half a million —
// but bisects: a schedule's Next is monotonic, so the latest tick is
// Next(x) for the latest x whose Next is not after now, found in about
// forty steps over any span. A constant-delay schedule (@every) ticks at
// fixed intervals from last and is computed directly.
func LatestTick(sched cron.Schedule, last, now time.Time) time.Time {
	if !now.After(last) {
		return time.Time{}
	}
	if every, ok := sched.(cron.ConstantDelaySchedule); ok {
		first := every.Next(last)
		if first.After(now) {
			return time.Time{}
		}
		n := now.Sub(first) / every.Delay
		return first.Add(n * every.Delay)
	}
	first := sched.Next(last)
	if first.IsZero() || first.After(now) {
		return time.Time{}
	}
	// Invariant: Next(lo) <= now < Next(hi). Next works at one-second
	// precision, so the bisection stops at one second.
	lo, hi := last, now
	for hi.Sub(lo) > time.Second {
		mid := lo.Add(hi.Sub(lo) / 2)
		if t := sched.Next(mid); !t.IsZero() && !t.After(now) {
			lo = mid
		} else {
			hi = mid
		}
	}
	tick := sched.Next(lo)
	// A schedule whose Next is not monotonic across a daylight-saving
	// change could leave a later tick: walk forward, a bounded few steps.
	for range maxForwardSteps {
		t := sched.Next(tick)
		if t.IsZero() || t.After(now) {
			break
		}
		tick = t
	}
	return tick
}

// maxForwardSteps bounds the walk that follows the bisection.
const maxForwardSteps = 64

var (
	// ErrInvalidSchedule is wrapped by the errors of a schedule or time zone
	// that cannot be read.
	ErrInvalidSchedule = errors.New("invalid schedule")
	// ErrNeverFires is wrapped by the error of a schedule that has no tick
	// within five years, such as "0 0 30 2 *".
	ErrNeverFires = errors.New("schedule never fires")
)
