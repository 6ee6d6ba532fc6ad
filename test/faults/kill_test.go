package faults_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/runid"
)

// The kill case: 25 jobs, two commits, so 50 runs; five SIGKILLs.
const (
	killJobs  = 25
	killCount = 5
)

// TestKilledDuringRuns SIGKILLs `sparkcd serve` at random points while it
// applies 25 jobs and runs them twice (two commits: 50 runs), with a
// kubelet stand-in moving the drivers through Running to Succeeded, and
// starts it again after each kill. Once sparkcd is left running, every run
// must have exactly one driver with its ConfigMap and Service, and every
// SparkJob's status must agree with its drivers: both runs in the history,
// both succeeded, the last run of the current spec, none active.
func TestKilledDuringRuns(t *testing.T) {
	e := env.Env(t)
	fig := caseFigures(t, "sigkill-during-runs")
	ns := sparkNamespace(t, e)
	ctx := t.Context()
	rng := newRand(t)

	repo := gittest.NewRepo(t)
	for i := range killJobs {
		repo.WriteFile(t, fmt.Sprintf("jobs/job-%02d.yaml", i), jobYAML(fmt.Sprintf("job-%02d", i), 100))
	}
	repo.CommitAndPush(t, "25 jobs")
	git := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	createSource(t, e, ns, git.URL(""), 5*time.Second)

	stopKubelet := startKubelet(t, e, ns)
	// 40 requests per second spread each wave of 25 runs over seconds, so
	// the kills land inside it.
	serve := newServeCluster(t, e, ns, "--kube-api-qps", "40", "--kube-api-burst", "40")
	var second string
	for k := range killCount {
		p := serve.start()
		if k == 2 {
			// The second commit lands once every job has had its first
			// run, so that both waves have 25 runs and kills land in both.
			eventually(t, "the first 25 runs started", func() (bool, string) {
				drivers, err := listDrivers(ctx, e, ns)
				return err == nil && len(drivers) >= killJobs, fmt.Sprintf("%d drivers, %v", len(drivers), err)
			})
			for i := range killJobs {
				repo.WriteFile(t, fmt.Sprintf("jobs/job-%02d.yaml", i), jobYAML(fmt.Sprintf("job-%02d", i), 200))
			}
			second = repo.CommitAndPush(t, "200 slices")
		}
		before, _ := listDrivers(ctx, e, ns)
		// Kill once the process has made a random number more drivers, or
		// after a random delay: some kills land mid-wave, some at start-up.
		target := len(before) + 1 + rng.IntN(8)
		deadline := time.Now().Add(randomDelay(rng, time.Second, 5*time.Second))
		var drivers []corev1.Pod
		for time.Now().Before(deadline) {
			drivers, _ = listDrivers(ctx, e, ns)
			if len(drivers) >= target {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		p.kill(t)
		fig.injected(1)
		t.Logf("kill %d: SIGKILL with %d drivers (%d at its start)", k+1, len(drivers), len(before))
		time.Sleep(randomDelay(rng, 0, 500*time.Millisecond))
	}
	serve.start()

	waitSourceApplied(t, e, ns, second)
	audit, interrupted := waitRuns(t, e, ns, jobNames("job-", killJobs, wantRuns{min: 2, max: 2, commit: second, interrupted: true}))
	stopKubelet()
	fig.runs = audit.total() + interrupted
	fig.duplicates = len(audit.duplicates)
	if len(audit.duplicates) > 0 {
		t.Fatalf("runs started twice: %s", strings.Join(audit.duplicates, "; "))
	}
	if interrupted > 0 {
		t.Logf("%d runs were interrupted between their driver and their dependents and failed as Interrupted", interrupted)
	}
	fig.held(killCount)
}

// startKubelet moves every driver of ns that has no scheduling gate and
// whose ConfigMap exists to Running and then Succeeded, a few hundred milliseconds apart, as a kubelet and a
// short Spark application would, until the returned function is called.
func startKubelet(t *testing.T, e *testenv.Env, ns string) func() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		seen := map[types.UID]time.Time{}
		for ctx.Err() == nil {
			time.Sleep(150 * time.Millisecond)
			drivers, err := listDrivers(ctx, e, ns)
			if err != nil {
				continue
			}
			for i := range drivers {
				pod := &drivers[i]
				at, ok := seen[pod.UID]
				if !ok {
					seen[pod.UID] = time.Now()
					continue
				}
				if time.Since(at) < 300*time.Millisecond {
					continue
				}
				seen[pod.UID] = time.Now()
				switch pod.Status.Phase {
				case corev1.PodPending, "":
					// The scheduler never binds a pod that has scheduling
					// gates, so no kubelet sees it: a driver stays Pending
					// until sparkcd has made its dependents and released it.
					// A kubelet also cannot mount a ConfigMap that does not
					// exist.
					if len(pod.Spec.SchedulingGates) > 0 {
						continue
					}
					cm := &corev1.ConfigMap{}
					key := types.NamespacedName{Namespace: ns, Name: runid.ConfigMapName(pod.Labels[v1alpha1.LabelRun])}
					if e.Client.Get(ctx, key, cm) != nil {
						continue
					}
					_ = setPodStatus(ctx, e, ns, pod.Name, podRunning)
				case corev1.PodRunning:
					_ = setPodStatus(ctx, e, ns, pod.Name, podSucceeded)
				}
			}
		}
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			wg.Wait()
		}
	}
	t.Cleanup(stop)
	return stop
}

// randomDelay is a delay in [lo, hi).
func randomDelay(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}
