package faults_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
)

// The etcd case: 40 jobs, one run each; etcd killed twice.
const etcdJobs = 40

// TestEtcdRestartUnderLoad SIGKILLs etcd twice while `sparkcd serve`
// applies a JobSource of 40 jobs and runs them, with the kubelet stand-in
// moving the drivers through Running to Succeeded: once while the
// SparkJobs are being applied, once while their runs end. Each time etcd
// stays down for a random 2–6 s and comes back on the same data directory
// and ports; kube-apiserver stays up, failing the requests that need
// storage meanwhile, and reconnects by itself. sparkcd must recover
// without a restart: every job applied and run exactly once with its
// dependents, every SparkJob's status agreeing with its one driver, the
// JobSource Ready at the commit.
//
// It must not run in parallel with the other cases: it takes the shared
// control plane down.
func TestEtcdRestartUnderLoad(t *testing.T) {
	e := env.Env(t)
	fig := caseFigures(t, "etcd-restart")
	ns := sparkNamespace(t, e)
	ctx := t.Context()
	rng := newRand(t)

	repo := gittest.NewRepo(t)
	for i := range etcdJobs {
		repo.WriteFile(t, fmt.Sprintf("jobs/job-%02d.yaml", i), jobYAML(fmt.Sprintf("job-%02d", i), 100+i))
	}
	commit := repo.CommitAndPush(t, "40 jobs")
	git := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	createSource(t, e, ns, git.URL(""), 5*time.Second)

	stopKubelet := startKubelet(t, e, ns)
	// 20 requests per second spread the apply of 40 SparkJobs and the
	// starts and ends of their runs over tens of seconds, so that both
	// outages land inside the work.
	serve := newServeCluster(t, e, ns, "--kube-api-qps", "20", "--kube-api-burst", "20")
	proc := serve.start()

	// The first outage comes once a random number of SparkJobs exist, the
	// second once a random number of runs have ended.
	outages := []struct {
		what   string
		target int
		count  func() (int, error)
	}{
		{what: "SparkJobs", target: 3 + rng.IntN(etcdJobs/2), count: func() (int, error) { return countJobs(ctx, e, ns) }},
		{what: "succeeded drivers", target: 3 + rng.IntN(etcdJobs*3/4), count: func() (int, error) {
			_, succeeded, err := countDrivers(ctx, e, ns)
			return succeeded, err
		}},
	}
	// A case that fails mid-outage leaves etcd running for the next ones.
	t.Cleanup(func() { _ = e.StartEtcd(context.Background()) })
	for k, o := range outages {
		eventually(t, fmt.Sprintf("%d %s before outage %d", o.target, o.what, k+1), func() (bool, string) {
			n, err := o.count()
			return err == nil && n >= o.target, fmt.Sprintf("%d %s, %v", n, o.what, err)
		})
		killEtcd(t, e, ns, rng, fig, k)
		// A real Deployment would restart a sparkcd that exited; the case
		// does the same, and says so, but sparkcd is expected to stay.
		if proc.exited() {
			t.Errorf("sparkcd exited during outage %d:\n%s", k+1, proc.tail(40))
			proc = serve.start()
		}
	}

	waitSourceApplied(t, e, ns, commit)
	audit, _ := waitRuns(t, e, ns, jobNames("job-", etcdJobs, wantRuns{min: 1, max: 1, commit: commit}))
	stopKubelet()
	fig.runs = audit.total()
	fig.duplicates = len(audit.duplicates)
	if len(audit.duplicates) > 0 {
		t.Fatalf("runs started twice: %s", strings.Join(audit.duplicates, "; "))
	}
	if proc.exited() {
		t.Errorf("sparkcd exited after the outages:\n%s", proc.tail(40))
	}
	if !e.ControllerManagerRunning() {
		t.Errorf("kube-controller-manager did not survive the restarts of etcd")
	}
	if !t.Failed() {
		fig.held(len(outages))
	}
}

// killEtcd SIGKILLs etcd for outage k (from 0), leaves it down for a
// random 2–6 s and starts it again on the same data directory and ports.
func killEtcd(t *testing.T, e *testenv.Env, ns string, rng *rand.Rand, fig *figures, k int) {
	t.Helper()
	jobs, _ := countJobs(t.Context(), e, ns)
	drivers, succeeded, _ := countDrivers(t.Context(), e, ns)
	if err := e.StopEtcd(); err != nil {
		t.Fatal(err)
	}
	fig.injected(1)
	downtime := randomDelay(rng, 2*time.Second, 6*time.Second)
	t.Logf("outage %d: etcd SIGKILLed with %d of %d SparkJobs, %d drivers, %d of them succeeded; down for %s",
		k+1, jobs, etcdJobs, drivers, succeeded, downtime.Round(time.Millisecond))
	// The downtime is the fault itself, not a wait for a condition.
	time.Sleep(downtime)
	startCtx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	start := time.Now()
	err := e.StartEtcd(startCtx)
	cancel()
	if err != nil {
		t.Fatalf("restart etcd: %v", err)
	}
	t.Logf("outage %d: etcd and kube-apiserver ready %s after the restart", k+1, time.Since(start).Round(time.Millisecond))
}

// countDrivers counts the drivers of ns, and those that succeeded.
func countDrivers(ctx context.Context, e *testenv.Env, ns string) (all, succeeded int, err error) {
	drivers, err := listDrivers(ctx, e, ns)
	for i := range drivers {
		if drivers[i].Status.Phase == corev1.PodSucceeded {
			succeeded++
		}
	}
	return len(drivers), succeeded, err
}

// countJobs counts the SparkJobs of ns, reading their metadata only.
func countJobs(ctx context.Context, e *testenv.Env, ns string) (int, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("SparkJobList"))
	err := e.Client.List(ctx, list, client.InNamespace(ns))
	return len(list.Items), err
}
