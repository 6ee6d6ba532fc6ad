package faults_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
)

// apiServerJobs is how many jobs the JobSource of the restart case holds.
const apiServerJobs = 100

// apiServerDowntime is how long kube-apiserver stays down: longer than the
// first retries of every loop, shorter than a source interval.
const apiServerDowntime = 4 * time.Second

// TestAPIServerRestartMidApply kills kube-apiserver (etcd kept) while
// `sparkcd serve` applies a JobSource of 100 jobs and starts their runs,
// and starts it again on the same address a few seconds later. sparkcd
// must recover by itself: every job applied, exactly one driver per job
// with its dependents, the JobSource Ready at the revision and every
// SparkJob's lastRun recorded.
//
// It must not run in parallel with the other cases: they share the
// control plane.
func TestAPIServerRestartMidApply(t *testing.T) {
	e := env.Env(t)
	fig := caseFigures(t, "apiserver-restart")
	ns := sparkNamespace(t, e)
	ctx := t.Context()

	repo := gittest.NewRepo(t)
	for i := range apiServerJobs {
		repo.WriteFile(t, fmt.Sprintf("jobs/job-%03d.yaml", i), jobYAML(fmt.Sprintf("job-%03d", i), 10+i))
	}
	commit := repo.CommitAndPush(t, "100 jobs")
	git := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	createSource(t, e, ns, git.URL(""), 30*time.Second)

	// A client-side limit of 50 requests per second spreads the apply of
	// 100 SparkJobs, and the runs the job loop starts meanwhile, over
	// seconds: the outage lands in the middle of both.
	serve := newServeCluster(t, e, ns, "--kube-api-qps", "50", "--kube-api-burst", "50")
	proc := serve.start()

	atKill := waitJobsApplied(t, e, ns, 10)
	drivers, err := listDrivers(ctx, e, ns)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	fig.injected(1)
	t.Logf("kube-apiserver killed with %d of %d SparkJobs applied and %d drivers created", atKill, apiServerJobs, len(drivers))
	if atKill == apiServerJobs {
		t.Errorf("the whole JobSource was applied before the outage: the fault did not land mid-apply")
	}
	time.Sleep(apiServerDowntime)
	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := e.StartAPIServer(startCtx); err != nil {
		t.Fatalf("restart kube-apiserver: %v", err)
	}
	if proc.exited() {
		t.Fatalf("sparkcd exited while kube-apiserver was down:\n%s", proc.tail(40))
	}

	waitSourceApplied(t, e, ns, commit)
	audit := waitOneRunPerJob(t, e, ns, commit)
	fig.runs = audit.total()
	fig.duplicates = len(audit.duplicates)
	if len(audit.duplicates) > 0 {
		t.Fatalf("runs started twice: %s", strings.Join(audit.duplicates, "; "))
	}
	if !e.ControllerManagerRunning() {
		t.Errorf("kube-controller-manager did not survive the restart of kube-apiserver")
	}
	fig.held(1)
}

// waitJobsApplied waits until ns holds at least n SparkJobs, and returns
// how many it holds.
func waitJobsApplied(t *testing.T, e *testenv.Env, ns string, n int) int {
	t.Helper()
	var applied int
	eventually(t, "the apply under way", func() (bool, string) {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("SparkJobList"))
		if err := e.Client.List(t.Context(), list, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		applied = len(list.Items)
		return applied >= n, fmt.Sprintf("%d SparkJobs", applied)
	})
	return applied
}

// waitOneRunPerJob waits until each of the apiServerJobs jobs has exactly
// one run, recorded as its lastRun, at commit, and every run is complete;
// it returns at once when a run started twice.
func waitOneRunPerJob(t *testing.T, e *testenv.Env, ns, commit string) runAudit {
	t.Helper()
	var audit runAudit
	eventually(t, "one complete run per job, recorded in its status", func() (bool, string) {
		jobs, err := listJobs(t.Context(), e, ns)
		if err != nil {
			return false, err.Error()
		}
		if audit, err = inspectRuns(t.Context(), e, ns); err != nil {
			return false, err.Error()
		}
		var missing []string
		for i := range apiServerJobs {
			name := fmt.Sprintf("job-%03d", i)
			job := jobs[name]
			switch {
			case job == nil:
				missing = append(missing, name+": no SparkJob")
			case job.Status.LastRun == nil:
				missing = append(missing, name+": no lastRun")
			case len(audit.runs[name]) != 1 || audit.runs[name][0] != job.Status.LastRun.Name:
				missing = append(missing, fmt.Sprintf("%s: runs %v, lastRun %s", name, audit.runs[name], job.Status.LastRun.Name))
			case job.Status.LastAppliedRevision == "" || !strings.HasSuffix(job.Status.LastAppliedRevision, commit):
				missing = append(missing, fmt.Sprintf("%s: lastAppliedRevision %q", name, job.Status.LastAppliedRevision))
			}
		}
		if len(audit.duplicates) > 0 {
			return true, ""
		}
		problems := append(missing, audit.incomplete...)
		return len(problems) == 0, fmt.Sprintf("%d problems: %s", len(problems), strings.Join(first(problems, 10), "; "))
	})
	return audit
}

// first returns at most n elements of s.
func first(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("and %d more", len(s)-n))
	}
	return s
}
