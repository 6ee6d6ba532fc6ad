package faults_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/runid"
)

// The failover case: jobs ticking every minute together, a 4 s lease.
const (
	tickJobs      = 12
	leaseDuration = 4 * time.Second
	tickDeadline  = 50
)

// TestLeaderFailoverDuringTicks runs two `sparkcd serve` replicas with
// leader election and 12 jobs on "* * * * *" whose ticks all fall at the
// same minute, and SIGKILLs the leader as soon as the first run of that
// burst appears. The other replica takes the Lease once it expires and
// starts the rest late, within startingDeadlineSeconds. No tick may start
// twice (run names are deterministic per tick: one driver per tick name)
// and none may be lost.
func TestLeaderFailoverDuringTicks(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	fig := caseFigures(t, "leader-failover")
	ns := sparkNamespace(t, e)

	repo := gittest.NewRepo(t)
	for i := range tickJobs {
		repo.WriteFile(t, fmt.Sprintf("jobs/tick-%02d.yaml", i), jobYAML(fmt.Sprintf("tick-%02d", i), 100,
			`schedule: "* * * * *"`, fmt.Sprintf("startingDeadlineSeconds: %d", tickDeadline), "concurrencyPolicy: Allow"))
	}
	commit := repo.CommitAndPush(t, "jobs every minute")
	git := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	createSource(t, e, ns, git.URL(""), time.Hour)

	// Ten requests per second stretch the burst of 12 runs over seconds,
	// so that the kill lands inside it.
	serve := newServeCluster(t, e, ns, "--leader-elect", "--leader-election-namespace", ns,
		"--leader-election-lease-duration", leaseDuration.String(),
		"--leader-election-renew-deadline", (leaseDuration * 3 / 4).String(),
		"--leader-election-retry-period", "500ms", "--kube-api-qps", "10", "--kube-api-burst", "2")
	replicas := []*serveProc{serve.start(), serve.start()}
	waitSourceApplied(t, e, ns, commit)
	leader, follower := replicas[0], replicas[1]
	if !acquired(leader) {
		leader, follower = follower, leader
	}
	if !acquired(leader) || acquired(follower) {
		t.Fatalf("want exactly one replica holding the Lease: %s %v, %s %v", leader.name, acquired(leader), follower.name, acquired(follower))
	}

	// The tick each job waits for.
	ticks := nextTicks(t, e, ns)
	atKill := waitFirstDriver(t, e, ns)
	leader.kill(t)
	fig.injected(1)
	t.Logf("%s, the leader, SIGKILLed with %d of %d runs of the burst started", leader.name, atKill, tickJobs)

	audit := waitTicksRun(t, e, ns, ticks)
	if !acquired(follower) {
		t.Errorf("%s ran the rest of the burst without logging that it acquired the Lease", follower.name)
	}
	fig.runs = audit.total()
	fig.duplicates = len(audit.duplicates)
	if len(audit.duplicates) > 0 {
		t.Fatalf("ticks started twice: %s", strings.Join(audit.duplicates, "; "))
	}
	// Any run besides the awaited tick's is a later tick's, at most one
	// per minute: the test may have been slow enough to see one.
	for name, runs := range audit.runs {
		if len(runs) > 2 {
			t.Errorf("%s has %d runs %v within two minutes", name, len(runs), runs)
		}
	}
	fig.held(1)
}

// nextTicks waits until every job has a next tick, and returns them by
// job.
func nextTicks(t *testing.T, e *testenv.Env, ns string) map[string]time.Time {
	t.Helper()
	ticks := map[string]time.Time{}
	eventually(t, "every job's next tick", func() (bool, string) {
		jobs, err := listJobs(t.Context(), e, ns)
		if err != nil {
			return false, err.Error()
		}
		for name, j := range jobs {
			if j.Status.NextScheduleTime != nil {
				ticks[name] = j.Status.NextScheduleTime.Time
			}
		}
		return len(ticks) == tickJobs, fmt.Sprintf("%d of %d jobs have a next tick", len(ticks), tickJobs)
	})
	return ticks
}

// waitFirstDriver polls far more often than eventually does, so that the
// kill follows the first run closely, and returns how many drivers exist.
func waitFirstDriver(t *testing.T, e *testenv.Env, ns string) int {
	t.Helper()
	atKill := 0
	for deadline := time.Now().Add(waitTimeout); atKill == 0; time.Sleep(5 * time.Millisecond) {
		drivers, err := listDrivers(t.Context(), e, ns)
		if err != nil {
			t.Fatal(err)
		}
		if atKill = len(drivers); atKill == 0 && time.Now().After(deadline) {
			t.Fatalf("no run of the tick after %s", waitTimeout)
		}
	}
	return atKill
}

// waitTicksRun waits until each job ran its awaited tick and every run is
// complete; it returns at once when a tick started twice.
func waitTicksRun(t *testing.T, e *testenv.Env, ns string, ticks map[string]time.Time) runAudit {
	t.Helper()
	var audit runAudit
	eventually(t, "every tick run exactly once", func() (bool, string) {
		var err error
		if audit, err = inspectRuns(t.Context(), e, ns); err != nil {
			return false, err.Error()
		}
		var problems []string
		for name, tick := range ticks {
			want := runid.ScheduledRunName(name, tick)
			found := false
			for _, run := range audit.runs[name] {
				found = found || run == want
			}
			if !found {
				problems = append(problems, fmt.Sprintf("%s: no run %s of tick %s (runs %v)", name, want, tick.Format(time.TimeOnly), audit.runs[name]))
			}
		}
		problems = append(problems, audit.incomplete...)
		return len(problems) == 0 || len(audit.duplicates) > 0, strings.Join(first(problems, 6), "; ")
	})
	return audit
}

// acquired reports whether a replica logged that it acquired the Lease.
func acquired(p *serveProc) bool {
	return p.logContains("successfully acquired lease") || p.logContains("Successfully acquired lease")
}
