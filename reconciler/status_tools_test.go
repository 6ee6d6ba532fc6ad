package reconciler_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/argohealth"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/runid"
)

var updateHealth = flag.Bool("update-health", false, "rewrite deploy/argocd/sparkcd.io/*/testdata and health_test.yaml from the live objects")

// argoDir holds the Argo CD health checks, in Argo CD's
// resource_customizations layout.
const argoDir = "../deploy/argocd/sparkcd.io"

// toolCase is one real object and what kstatus and Argo CD must read.
type toolCase struct {
	name, kind, objName string
	// ready is the Ready condition's status it must have, "" for any.
	ready   string
	kstatus status.Status
	argo    string
}

// statusTools is the state TestStatusReadByTools's steps share.
type statusTools struct {
	e    *testenv.Env
	ns   string
	repo *gittest.Repo
	url  string
	seen []toolCase
}

// TestStatusReadByTools (issue 18, item 9): the loops bring real
// SparkJobs and JobSources into each state against the real API server,
// and kstatus (sigs.k8s.io/cli-utils, what Flux, kubectl wait-style tools
// and cli-utils appliers read) and the Argo CD health checks of
// deploy/argocd read each object as docs/status.md says: a source with one
// rejected job is Current and Healthy (the rejected job is Failed), a job
// waiting for its active run is busy (InProgress, Healthy, not
// Ready=False), a stalled source or a failed run is Failed and Degraded.
// The objects are kept under deploy/argocd/sparkcd.io/*/testdata
// (-update-health rewrites them); the test fails when they no longer
// match what the loops write.
func TestStatusReadByTools(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	st := &statusTools{e: e, ns: sparkNamespace(t, e), repo: gittest.NewRepo(t)}
	st.repo.WriteFile(t, "jobs/good.yaml", jobYAML(t, "good"))
	st.repo.WriteFile(t, "jobs/bad.yaml", jobYAML(t, "bad"))
	st.repo.WriteFile(t, "rejected/worse.yaml", strings.Replace(jobYAML(t, "worse"), "instances: 2", "instances: two", 1))
	first := st.repo.CommitAndPush(t, "two jobs")
	st.url = gittest.StartHTTP(t, gittest.Handler(t, st.repo.Root, nil), false).URL("")
	startSourceLoop(t, e, reconciler.SourceOptions{}, st.ns)
	newSource(t, e, st.ns, "jobs", st.url)
	newSource(t, e, st.ns, "broken", st.url, func(s *v1alpha1.JobSource) { s.Spec.Path = "no-such-path" })
	newSource(t, e, st.ns, "rejected", st.url, func(s *v1alpha1.JobSource) { s.Spec.Path = "rejected" })

	waitSource(t, e, st.ns, "jobs", "Ready", func(s *v1alpha1.JobSource) bool {
		return sourceReady(s, "True", meta.SucceededReason, first)
	})
	st.check(t, toolCase{name: "ready", kind: v1alpha1.JobSourceKind, objName: "jobs", ready: "True", kstatus: status.CurrentStatus, argo: argohealth.Healthy})
	waitSource(t, e, st.ns, "broken", "Stalled", func(s *v1alpha1.JobSource) bool {
		return apimeta.IsStatusConditionTrue(s.Status.Conditions, meta.StalledCondition)
	})
	st.check(t, toolCase{name: "stalled", kind: v1alpha1.JobSourceKind, objName: "broken", ready: "False", kstatus: status.FailedStatus, argo: argohealth.Degraded})
	// A revision of which nothing applies is a failed source.
	waitSource(t, e, st.ns, "rejected", "Stalled", func(s *v1alpha1.JobSource) bool {
		return apimeta.IsStatusConditionTrue(s.Status.Conditions, meta.StalledCondition)
	})
	st.check(t, toolCase{name: "all-jobs-rejected", kind: v1alpha1.JobSourceKind, objName: "rejected", ready: "False", kstatus: status.FailedStatus, argo: argohealth.Degraded})

	pending := lastRunIn(t, e, st.ns, "good", v1alpha1.RunPending)
	st.check(t, toolCase{name: "run-pending", kind: v1alpha1.SparkJobKind, objName: "good", ready: "Unknown", kstatus: status.InProgressStatus, argo: argohealth.Progressing})
	setPodStatus(t, e, st.ns, runid.DriverPodName(pending.Name), running)
	lastRunIn(t, e, st.ns, "good", v1alpha1.RunRunning)
	st.check(t, toolCase{name: "run-running", kind: v1alpha1.SparkJobKind, objName: "good", ready: "Unknown", kstatus: status.InProgressStatus, argo: argohealth.Healthy})
	setPodStatus(t, e, st.ns, runid.DriverPodName(pending.Name), terminated(corev1.PodFailed, "Error", 1))
	lastRunIn(t, e, st.ns, "good", v1alpha1.RunFailed)
	st.check(t, toolCase{name: "run-failed", kind: v1alpha1.SparkJobKind, objName: "good", ready: "False", kstatus: status.FailedStatus, argo: argohealth.Degraded})

	st.rejectOne(t)
	st.waitForActiveRun(t)
	st.suspended(t)
	st.writeHealthTests(t)
}

// rejectOne breaks one job in git: the source applies the other and stays
// Ready, the broken job keeps its spec and is Stalled.
func (st *statusTools) rejectOne(t *testing.T) {
	st.repo.WriteFile(t, "jobs/bad.yaml", strings.Replace(jobYAML(t, "bad"), "instances: 2", "instances: two", 1))
	commit := st.repo.CommitAndPush(t, "break bad")
	requestAndWait(t, st.e, st.ns, "jobs")
	waitSource(t, st.e, st.ns, "jobs", "JobsRejected", func(s *v1alpha1.JobSource) bool {
		c := apimeta.FindStatusCondition(s.Status.Conditions, meta.ReadyCondition)
		return strings.HasSuffix(s.Status.LastAttemptedRevision, commit) && c != nil && c.Reason == reconciler.ReasonJobsRejected
	})
	st.check(t, toolCase{name: "jobs-rejected", kind: v1alpha1.JobSourceKind, objName: "jobs", ready: "True", kstatus: status.CurrentStatus, argo: argohealth.Healthy})
	eventually(t, "a JobsRejected warning on the source", func() (bool, string) {
		events := &eventsv1.EventList{}
		if err := st.e.Client.List(context.Background(), events, client.InNamespace(st.ns)); err != nil {
			return false, err.Error()
		}
		for _, ev := range events.Items {
			if ev.Regarding.Kind == v1alpha1.JobSourceKind && ev.Regarding.Name == "jobs" && ev.Reason == reconciler.ReasonJobsRejected &&
				ev.Type == corev1.EventTypeWarning && strings.Contains(ev.Note, "1 jobs rejected") {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d events", len(events.Items))
	})
	waitJob(t, st.e, st.ns, "bad", "SourceRejected", func(j *v1alpha1.SparkJob) bool {
		c := apimeta.FindStatusCondition(j.Status.Conditions, meta.ReadyCondition)
		return c != nil && c.Reason == reconciler.ReasonSourceRejected
	})
	st.check(t, toolCase{name: "source-rejected", kind: v1alpha1.SparkJobKind, objName: "bad", ready: "False", kstatus: status.FailedStatus, argo: argohealth.Degraded})
}

// waitForActiveRun changes a job made by hand while its run is active:
// the new run waits (concurrencyPolicy Forbid), and the job is busy, not
// failing; when the runs end it is Ready.
func (st *statusTools) waitForActiveRun(t *testing.T) {
	e, ns := st.e, st.ns
	job := piJob(t, ns, "busy", func(j *v1alpha1.SparkJob) { j.Spec.ConcurrencyPolicy = v1alpha1.ForbidConcurrent })
	if err := e.Client.Create(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	first := lastRunIn(t, e, ns, "busy", v1alpha1.RunPending)
	setPodStatus(t, e, ns, runid.DriverPodName(first.Name), running)
	lastRunIn(t, e, ns, "busy", v1alpha1.RunRunning)
	updateJob(t, e, ns, "busy", func(j *v1alpha1.SparkJob) { j.Spec.Arguments = []string{"1000"} })
	waitJob(t, e, ns, "busy", "the new run to wait", func(j *v1alpha1.SparkJob) bool {
		c := apimeta.FindStatusCondition(j.Status.Conditions, meta.ReconcilingCondition)
		return c != nil && c.Reason == reconciler.ReasonWaitingForActiveRun && c.ObservedGeneration == j.Generation
	})
	st.check(t, toolCase{name: "waiting-for-active-run", kind: v1alpha1.SparkJobKind, objName: "busy", ready: "Unknown", kstatus: status.InProgressStatus, argo: argohealth.Healthy})
	setPodStatus(t, e, ns, runid.DriverPodName(first.Name), succeeded)
	next := waitJob(t, e, ns, "busy", "the new run", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun != nil && j.Status.LastRun.Name != first.Name
	})
	setPodStatus(t, e, ns, runid.DriverPodName(next.Status.LastRun.Name), succeeded)
	lastRunIn(t, e, ns, "busy", v1alpha1.RunSucceeded)
	st.check(t, toolCase{name: "run-succeeded", kind: v1alpha1.SparkJobKind, objName: "busy", ready: "True", kstatus: status.CurrentStatus, argo: argohealth.Healthy})
}

// suspended: a suspended job is Current for kstatus (nothing is under
// way) and Suspended for Argo CD.
func (st *statusTools) suspended(t *testing.T) {
	job := piJob(t, st.ns, "paused", func(j *v1alpha1.SparkJob) { j.Spec.Suspend = ptr.To(true) })
	if err := st.e.Client.Create(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	waitJob(t, st.e, st.ns, "paused", "Ready, suspended", func(j *v1alpha1.SparkJob) bool {
		c := apimeta.FindStatusCondition(j.Status.Conditions, meta.ReadyCondition)
		return c != nil && c.Reason == meta.SuspendedReason && c.ObservedGeneration == j.Generation
	})
	st.check(t, toolCase{name: "suspended", kind: v1alpha1.SparkJobKind, objName: "paused", ready: "True", kstatus: status.CurrentStatus, argo: argohealth.Suspended})
}

// check reads the object as unstructured, as the tools do, and asserts
// what kstatus and the Argo CD health check make of it; it keeps the
// object under testdata.
func (st *statusTools) check(t *testing.T, c toolCase) {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind(c.kind))
	if err := st.e.Client.Get(context.Background(), types.NamespacedName{Namespace: st.ns, Name: c.objName}, u); err != nil {
		t.Fatal(err)
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	if c.ready != "" {
		if got := conditionStatus(conds, meta.ReadyCondition); got != c.ready {
			t.Errorf("%s %s: Ready=%s, want Ready=%s; conditions %v", c.kind, c.name, got, c.ready, conds)
		}
	}
	res, err := status.Compute(u)
	if err != nil {
		t.Fatalf("%s %s: kstatus: %v", c.kind, c.name, err)
	}
	if res.Status != c.kstatus {
		t.Errorf("%s %s: kstatus %s (%s), want %s; conditions %v", c.kind, c.name, res.Status, res.Message, c.kstatus, conds)
	}
	script, err := os.ReadFile(filepath.Join(argoDir, c.kind, "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	hs, err := argohealth.Evaluate(string(script), u.Object)
	if err != nil || hs.Status != c.argo || hs.Message == "" {
		t.Errorf("%s %s: Argo CD health %+v (%v), want %s with a message; conditions %v", c.kind, c.name, hs, err, c.argo, conds)
	}
	st.keep(t, c, u)
}

// conditionStatus is the status of the condition of type kind, or "".
func conditionStatus(conds []any, kind string) string {
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == kind {
			s, _ := m["status"].(string)
			return s
		}
	}
	return ""
}
