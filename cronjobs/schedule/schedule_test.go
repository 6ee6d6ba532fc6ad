package schedule_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/robfig/cron/v3"
	"k8s.io/utils/ptr"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/cronjobs/schedule"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func scheduled(schedule, tz string, deadline *int64) *v1alpha1.SparkJob {
	return &v1alpha1.SparkJob{Spec: v1alpha1.SparkJobSpec{Schedule: schedule, TimeZone: tz, StartingDeadlineSeconds: deadline}}
}

// due is what Due returns, in UTC: the tick to run (zero: none) and the
// next one.
type due struct{ Tick, Next time.Time }

// dueCase is one case of TestDue.
type dueCase struct {
	name      string
	job       *v1alpha1.SparkJob
	last, now time.Time
	want      due
}

// dueTickCases are plain cron schedules: the tick itself, one run for many
// missed ticks, and the deadline a late tick must meet.
func dueTickCases() []dueCase {
	return []dueCase{
		{
			name: "no tick yet",
			job:  scheduled("0 2 * * *", "UTC", nil),
			last: utc("2026-06-01T10:00:00Z"), now: utc("2026-06-01T12:00:00Z"),
			want: due{Next: utc("2026-06-02T02:00:00Z")},
		},
		{
			name: "the tick itself",
			job:  scheduled("0 2 * * *", "UTC", nil),
			last: utc("2026-06-01T10:00:00Z"), now: utc("2026-06-02T02:00:00Z"),
			want: due{Tick: utc("2026-06-02T02:00:00Z"), Next: utc("2026-06-03T02:00:00Z")},
		},
		{
			name: "a tick already run is not due again",
			job:  scheduled("0 2 * * *", "UTC", nil),
			last: utc("2026-06-02T02:00:00Z"), now: utc("2026-06-02T02:00:30Z"),
			want: due{Next: utc("2026-06-03T02:00:00Z")},
		},
		{
			name: "many missed ticks run once, the latest",
			job:  scheduled("*/5 * * * *", "UTC", nil),
			last: utc("2025-01-01T00:00:00Z"), now: utc("2026-06-02T02:03:00Z"),
			want: due{Tick: utc("2026-06-02T02:00:00Z"), Next: utc("2026-06-02T02:05:00Z")},
		},
		{
			name: "a missed tick inside the deadline runs late",
			job:  scheduled("0 2 * * *", "UTC", ptr.To[int64](600)),
			last: utc("2026-06-01T02:00:00Z"), now: utc("2026-06-02T02:09:59Z"),
			want: due{Tick: utc("2026-06-02T02:00:00Z"), Next: utc("2026-06-03T02:00:00Z")},
		},
		{
			name: "a missed tick at the deadline runs late",
			job:  scheduled("0 2 * * *", "UTC", ptr.To[int64](600)),
			last: utc("2026-06-01T02:00:00Z"), now: utc("2026-06-02T02:10:00Z"),
			want: due{Tick: utc("2026-06-02T02:00:00Z"), Next: utc("2026-06-03T02:00:00Z")},
		},
		{
			name: "a missed tick outside the deadline does not run",
			job:  scheduled("0 2 * * *", "UTC", ptr.To[int64](600)),
			last: utc("2026-06-01T02:00:00Z"), now: utc("2026-06-02T02:10:01Z"),
			want: due{Next: utc("2026-06-03T02:00:00Z")},
		},
		{
			name: "an older tick inside the deadline does not stand in for a late latest one",
			job:  scheduled("*/10 * * * *", "UTC", ptr.To[int64](900)),
			last: utc("2026-06-02T01:00:00Z"), now: utc("2026-06-02T02:25:00Z"),
			want: due{Tick: utc("2026-06-02T02:20:00Z"), Next: utc("2026-06-02T02:30:00Z")},
		},
		{
			name: "deadline zero runs only on the tick",
			job:  scheduled("0 2 * * *", "UTC", ptr.To[int64](0)),
			last: utc("2026-06-01T02:00:00Z"), now: utc("2026-06-02T02:00:01Z"),
			want: due{Next: utc("2026-06-03T02:00:00Z")},
		},
	}
}

// dueScheduleCases are the other kinds of schedule: descriptors, @every,
// time zones, sparse schedules, and a skewed clock.
func dueScheduleCases() []dueCase {
	return []dueCase{
		{
			name: "descriptor",
			job:  scheduled("@daily", "UTC", nil),
			last: utc("2026-06-01T10:00:00Z"), now: utc("2026-06-02T00:00:10Z"),
			want: due{Tick: utc("2026-06-02T00:00:00Z"), Next: utc("2026-06-03T00:00:00Z")},
		},
		{
			name: "every counts from the last tick",
			job:  scheduled("@every 3m", "UTC", nil),
			last: utc("2026-06-01T10:00:20Z"), now: utc("2026-06-01T10:10:00Z"),
			want: due{Tick: utc("2026-06-01T10:09:20Z"), Next: utc("2026-06-01T10:13:00Z")},
		},
		{
			name: "every, not yet",
			job:  scheduled("@every 1h", "UTC", nil),
			last: utc("2026-06-01T10:00:00Z"), now: utc("2026-06-01T10:59:59Z"),
			want: due{Next: utc("2026-06-01T11:59:59Z")},
		},
		{
			name: "every, a year down, once",
			job:  scheduled("@every 1s", "UTC", nil),
			last: utc("2025-06-01T10:00:00Z"), now: utc("2026-06-01T10:00:00.5Z"),
			want: due{Tick: utc("2026-06-01T10:00:00Z"), Next: utc("2026-06-01T10:00:01Z")},
		},
		{
			name: "time zone",
			job:  scheduled("0 2 * * *", "America/New_York", nil),
			last: utc("2026-06-01T00:00:00Z"), now: utc("2026-06-01T06:00:00Z"),
			want: due{Tick: utc("2026-06-01T06:00:00Z"), Next: utc("2026-06-02T06:00:00Z")},
		},
		{
			name: "sparse schedule, years apart",
			job:  scheduled("0 0 29 2 *", "UTC", nil),
			last: utc("2020-03-01T00:00:00Z"), now: utc("2026-06-01T00:00:00Z"),
			want: due{Tick: utc("2024-02-29T00:00:00Z"), Next: utc("2028-02-29T00:00:00Z")},
		},
		{
			// The ticks up to last never run, so the next one is after it.
			name: "last after now (a skewed clock) runs nothing; next is after last",
			job:  scheduled("* * * * *", "UTC", nil),
			last: utc("2026-06-01T10:05:00Z"), now: utc("2026-06-01T10:00:30Z"),
			want: due{Next: utc("2026-06-01T10:06:00Z")},
		},
	}
}

// TestDue: the latest tick after last and at or before now, within the
// deadline; next is always the first tick after now.
func TestDue(t *testing.T) {
	t.Parallel()
	s := schedule.NewScheduler()
	for _, tt := range slices.Concat(dueTickCases(), dueScheduleCases()) {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tick, next, err := s.Due(tt.job, tt.last, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, due{tick.UTC(), next.UTC()}); diff != "" {
				t.Errorf("Due (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDueErrors: a schedule that cannot be read, or never fires, is an
// error the job loop turns into a Stalled job.
func TestDueErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, schedule, tz string
		want               error
	}{
		{"garbage", "every day", "UTC", schedule.ErrInvalidSchedule},
		{"six fields", "0 0 2 * * *", "UTC", schedule.ErrInvalidSchedule},
		{"own time zone", "CRON_TZ=Europe/Paris 0 2 * * *", "UTC", schedule.ErrInvalidSchedule},
		{"unknown zone", "0 2 * * *", "Mars/Olympus", schedule.ErrInvalidSchedule},
		{"host zone", "0 2 * * *", "Local", schedule.ErrInvalidSchedule},
		{"never", "0 0 30 2 *", "UTC", schedule.ErrNeverFires},
	}
	s := schedule.NewScheduler()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := s.Due(scheduled(tt.schedule, tt.tz, nil), utc("2026-01-01T00:00:00Z"), utc("2026-06-01T00:00:00Z"))
			if !errors.Is(err, tt.want) {
				t.Errorf("Due: %v, want %v", err, tt.want)
			}
		})
	}
}

// TestDueDaylightSaving walks Europe/Paris schedules half an hour at a time
// across both changes of 2026, as a job loop woken that often would ask.
// The ticks are robfig/cron's, which a Kubernetes CronJob with the same
// timeZone has too: a wall-clock time the spring change skips (02:30 on
// March 29) has no tick that day, and one the autumn change repeats (02:30
// on October 25) ticks at both instants. Schedules that must run exactly
// once a day whatever the zone does belong in UTC, as the docs say.
func TestDueDaylightSaving(t *testing.T) {
	t.Parallel()
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, schedule string
		from, to       time.Time
		want           []string
	}{
		{
			name:     "spring, daily at 02:30, which does not exist on the 29th: no tick that day",
			schedule: "30 2 * * *",
			from:     time.Date(2026, 3, 27, 12, 0, 0, 0, paris), to: time.Date(2026, 3, 31, 12, 0, 0, 0, paris),
			want: []string{"2026-03-28T02:30:00+01:00", "2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00"},
		},
		{
			name:     "spring, daily at 01:30 and 03:30, around the gap",
			schedule: "30 1,3 * * *",
			from:     time.Date(2026, 3, 28, 12, 0, 0, 0, paris), to: time.Date(2026, 3, 29, 12, 0, 0, 0, paris),
			want: []string{"2026-03-29T01:30:00+01:00", "2026-03-29T03:30:00+02:00"},
		},
		{
			name:     "autumn, daily at 02:30, which happens twice on the 25th: two ticks",
			schedule: "30 2 * * *",
			from:     time.Date(2026, 10, 23, 12, 0, 0, 0, paris), to: time.Date(2026, 10, 27, 12, 0, 0, 0, paris),
			want: []string{"2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00", "2026-10-26T02:30:00+01:00", "2026-10-27T02:30:00+01:00"},
		},
		{
			name:     "autumn, hourly, 25 hours on the 25th",
			schedule: "0 * * * *",
			from:     time.Date(2026, 10, 25, 0, 30, 0, 0, paris), to: time.Date(2026, 10, 25, 4, 30, 0, 0, paris),
			want: []string{"2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00",
				"2026-10-25T03:00:00+01:00", "2026-10-25T04:00:00+01:00"},
		},
	}
	s := schedule.NewScheduler()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			job := scheduled(tt.schedule, "Europe/Paris", ptr.To[int64](3600))
			var got []string
			last := tt.from
			for now := tt.from; !now.After(tt.to); now = now.Add(30 * time.Minute) {
				tick, next, err := s.Due(job, last, now)
				if err != nil {
					t.Fatal(err)
				}
				if !next.After(now) {
					t.Fatalf("at %s next is %s, not after now", now, next)
				}
				if !tick.IsZero() {
					got = append(got, tick.In(paris).Format(time.RFC3339))
					last = tick
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ticks (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLatestTickMatchesWalk: the bisection finds the tick a walk over
// every tick finds, on schedules of every shape.
func TestLatestTickMatchesWalk(t *testing.T) {
	t.Parallel()
	schedules := []string{"* * * * *", "*/7 * * * *", "0 2 * * *", "30 2 * * *", "0 0 1,2 * *", "0 9 * * 1-5", "15 3 * 1 *", "0 * 25 10 *", "@hourly", "@weekly"}
	zones := []string{"UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe"}
	start := utc("2026-01-01T00:00:00Z")
	for _, spec := range schedules {
		for _, zone := range zones {
			sched, err := schedule.Parse(spec, zone)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 60 {
				last := start.Add(time.Duration(i*i*7919) * time.Minute)
				// Spans up to three days keep the reference walk quick.
				now := last.Add(time.Duration(1+(i*i*i*37)%(3*24*60)) * time.Minute)
				want := walk(sched, last, now)
				if got := schedule.LatestTick(sched, last, now); !got.Equal(want) {
					t.Errorf("%s in %s, last %s, now %s: latest tick %s, a walk finds %s", spec, zone, last, now, got, want)
				}
			}
		}
	}
}

// walk finds the latest tick by visiting every tick.
func walk(sched cron.Schedule, last, now time.Time) time.Time {
	var latest time.Time
	for t := sched.Next(last); !t.IsZero() && !t.After(now); t = sched.Next(t) {
		latest = t
	}
	return latest
}

// FuzzParseSchedule: no input makes Parse panic, and a schedule it
// accepts always has a next tick after any time, or none at all.
func FuzzParseSchedule(f *testing.F) {
	for _, seed := range []struct{ schedule, tz string }{
		{"0 2 * * *", "UTC"}, {"@daily", "Europe/Paris"}, {"@every 3m", ""}, {"*/5 1-3 * 1,6 MON-FRI", "America/New_York"},
		{"CRON_TZ=UTC 0 2 * * *", ""}, {"0 0 30 2 *", "UTC"}, {"@every 0s", "UTC"}, {"60 * * * *", "UTC"},
		{"* * * * * *", "UTC"}, {"@reboot", "UTC"}, {"0 2 * * *", "Local"}, {"", ""}, {"0 2 * * *", "../../etc/passwd"},
	} {
		f.Add(seed.schedule, seed.tz)
	}
	at := utc("2026-03-29T00:30:00Z")
	f.Fuzz(func(t *testing.T, spec, tz string) {
		sched, err := schedule.Parse(spec, tz)
		if err != nil {
			if !errors.Is(err, schedule.ErrInvalidSchedule) {
				t.Fatalf("Parse(%q, %q): %v does not wrap ErrInvalidSchedule", spec, tz, err)
			}
			return
		}
		if next := sched.Next(at); !next.IsZero() && !next.After(at) {
			t.Fatalf("Parse(%q, %q): next tick %s is not after %s", spec, tz, next, at)
		}
	})
}
