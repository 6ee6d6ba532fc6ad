package reconciler_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// sourceLifecycle is the state TestSourceLifecycle's steps share: one
// source over a git repository served with basic auth, its loop, and the
// last commit pushed.
type sourceLifecycle struct {
	e        *testenv.Env
	ns       string
	repo     *gittest.Repo
	srv      *gittest.HTTPServer
	loop     *sourceLoop
	commit   string
	firstRun v1alpha1.RunStatus // the first run of job a
}

// newSourceLifecycle commits five jobs, serves them and starts the source
// loop on a JobSource that reads them.
func newSourceLifecycle(t *testing.T) *sourceLifecycle {
	e := env.Env(t)
	lc := &sourceLifecycle{e: e, ns: sparkNamespace(t, e), repo: gittest.NewRepo(t)}
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		lc.repo.WriteFile(t, "jobs/"+name+".yaml", jobYAML(t, name))
	}
	lc.commit = lc.repo.CommitAndPush(t, "five jobs")
	lc.srv = gittest.StartHTTP(t, gittest.Handler(t, lc.repo.Root, gittest.BasicAuth("git", "pw-s3cret")), false)
	if err := e.Client.Create(t.Context(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: lc.ns, Name: "git"},
		Data:       map[string][]byte{"username": []byte("git"), "password": []byte("pw-s3cret")},
	}); err != nil {
		t.Fatal(err)
	}
	lc.loop = startSourceLoop(t, e, reconciler.SourceOptions{}, lc.ns)
	newSource(t, e, lc.ns, "jobs", lc.srv.URL(""), func(s *v1alpha1.JobSource) {
		s.Spec.SecretRef = &meta.LocalObjectReference{Name: "git"}
	})
	return lc
}

// request is the reconcile request of the source.
func (lc *sourceLifecycle) request() ctrl.Request {
	return ctrl.Request{NamespacedName: types.NamespacedName{Namespace: lc.ns, Name: "jobs"}}
}

// commitJobs: five committed jobs become SparkJobs, annotated with their
// source and revision, and their first runs start.
func (lc *sourceLifecycle) commitJobs(t *testing.T) {
	src := waitSource(t, lc.e, lc.ns, "jobs", "Ready", func(s *v1alpha1.JobSource) bool {
		return sourceReady(s, metav1.ConditionTrue, meta.SucceededReason, lc.commit)
	})
	if diff := cmp.Diff([]string{"a", "b", "c", "d", "e"}, jobNames(t, lc.e, lc.ns)); diff != "" {
		t.Errorf("SparkJobs (-want +got):\n%s", diff)
	}
	if len(src.Status.Inventory) != 5 || src.Status.LastAppliedRevision != "main@"+short(lc.commit) {
		t.Errorf("inventory %v, last applied %q", src.Status.Inventory, src.Status.LastAppliedRevision)
	}
	job := getJob(t, lc.e, lc.ns, "a")
	for k, want := range map[string]string{reconciler.AnnotationSource: lc.ns + "/jobs", v1alpha1.AnnotationRevision: "main@" + short(lc.commit)} {
		if job.Annotations[k] != want {
			t.Errorf("annotation %s = %q, want %q", k, job.Annotations[k], want)
		}
	}
	if job.Labels[v1alpha1.LabelManagedBy] != v1alpha1.ManagedByValue {
		t.Errorf("labels %v", job.Labels)
	}
	lastRunIn(t, lc.e, lc.ns, "a", v1alpha1.RunPending)
}

// commitChange: a changed job starts a new run; an unchanged one is not
// rewritten.
func (lc *sourceLifecycle) commitChange(t *testing.T) {
	lc.firstRun = lastRunIn(t, lc.e, lc.ns, "a", v1alpha1.RunPending)
	setPodStatus(t, lc.e, lc.ns, lc.firstRun.Name+"-driver", succeeded)
	lastRunIn(t, lc.e, lc.ns, "a", v1alpha1.RunSucceeded)
	lc.repo.WriteFile(t, "jobs/a.yaml", jobYAML(t, "a", "200"))
	lc.commit = lc.repo.CommitAndPush(t, "a takes 200")
	requestAndWait(t, lc.e, lc.ns, "jobs")
	waitJob(t, lc.e, lc.ns, "a", "a second run", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun != nil && j.Status.LastRun.Name != lc.firstRun.Name
	})
	if rev := getJob(t, lc.e, lc.ns, "b").Annotations[v1alpha1.AnnotationRevision]; strings.HasSuffix(rev, lc.commit) {
		t.Errorf("b, unchanged, was rewritten with revision %s", rev)
	}
}

// commitDeletion: a deleted job is pruned; its finished driver goes with
// it, its running driver is released and stays.
func (lc *sourceLifecycle) commitDeletion(t *testing.T) {
	second := lastRunIn(t, lc.e, lc.ns, "a", v1alpha1.RunPending)
	setPodStatus(t, lc.e, lc.ns, second.Name+"-driver", running)
	lastRunIn(t, lc.e, lc.ns, "a", v1alpha1.RunRunning)
	lc.repo.Remove(t, "jobs/a.yaml")
	lc.commit = lc.repo.CommitAndPush(t, "drop a")
	requestAndWait(t, lc.e, lc.ns, "jobs")
	eventually(t, "SparkJob a pruned", func() (bool, string) {
		return !slices.Contains(jobNames(t, lc.e, lc.ns), "a"), "a still there"
	})
	// The finished driver stays owned: the garbage collector deleting
	// it shows it has handled the job's deletion.
	eventually(t, "the finished driver collected", func() (bool, string) {
		err := lc.e.Client.Get(t.Context(), types.NamespacedName{Namespace: lc.ns, Name: lc.firstRun.Name + "-driver"}, &corev1.Pod{})
		return apierrors.IsNotFound(err), "still there"
	})
	pod := &corev1.Pod{}
	if err := lc.e.Client.Get(t.Context(), types.NamespacedName{Namespace: lc.ns, Name: second.Name + "-driver"}, pod); err != nil {
		t.Fatalf("the running driver is gone: %v", err)
	}
	if len(pod.OwnerReferences) != 0 || pod.Labels[v1alpha1.LabelManagedBy] != v1alpha1.ManagedByValue {
		t.Errorf("running driver: owners %v, labels %v", pod.OwnerReferences, pod.Labels)
	}
}

// commitMalformed: a malformed job is reported on the source and the
// SparkJob and keeps its applied version; good jobs still apply.
func (lc *sourceLifecycle) commitMalformed(t *testing.T) {
	before := getJob(t, lc.e, lc.ns, "b")
	lc.repo.WriteFile(t, "jobs/b.yaml", strings.Replace(jobYAML(t, "b"), "instances: 2", "instances: two", 1))
	lc.repo.WriteFile(t, "jobs/f.yaml", jobYAML(t, "f"))
	lc.commit = lc.repo.CommitAndPush(t, "break b, add f")
	src := requestAndWait(t, lc.e, lc.ns, "jobs")
	if !sourceReady(src, metav1.ConditionTrue, reconciler.ReasonJobsRejected, lc.commit) {
		t.Errorf("conditions %+v", src.Status.Conditions)
	}
	if !slices.Contains(jobNames(t, lc.e, lc.ns), "f") {
		t.Error("the good job f was not applied")
	}
	var found *v1alpha1.JobFindings
	for i := range src.Status.Jobs {
		if src.Status.Jobs[i].Name == "b" {
			found = &src.Status.Jobs[i]
		}
	}
	if found == nil || found.Source != "jobs/b.yaml" || found.Findings[0].Field != "spec.executor.instances" {
		t.Fatalf("findings of b: %+v", src.Status.Jobs)
	}
	after := getJob(t, lc.e, lc.ns, "b")
	if after.Generation != before.Generation || *after.Spec.Executor.Instances != 2 {
		t.Errorf("b changed: generation %d → %d", before.Generation, after.Generation)
	}
	waitJob(t, lc.e, lc.ns, "b", "Ready=False SourceRejected", func(j *v1alpha1.SparkJob) bool {
		c := apimeta.FindStatusCondition(j.Status.Conditions, meta.ReadyCondition)
		return c != nil && c.Reason == reconciler.ReasonSourceRejected && strings.Contains(c.Message, "jobs/b.yaml") &&
			strings.Contains(c.Message, "spec.executor.instances")
	})
	lc.repo.WriteFile(t, "jobs/b.yaml", jobYAML(t, "b"))
	lc.commit = lc.repo.CommitAndPush(t, "fix b")
	requestAndWait(t, lc.e, lc.ns, "jobs")
	waitJob(t, lc.e, lc.ns, "b", "the rejection cleared", func(j *v1alpha1.SparkJob) bool {
		c := apimeta.FindStatusCondition(j.Status.Conditions, meta.ReadyCondition)
		_, marked := j.Annotations[reconciler.AnnotationSourceRejected]
		return !marked && c != nil && c.Reason != reconciler.ReasonSourceRejected
	})
}

// commitMassDeletion: deleting 80% of the jobs prunes nothing until the
// allow-prune annotation names the commit.
func (lc *sourceLifecycle) commitMassDeletion(t *testing.T) {
	for _, name := range []string{"c", "d", "e", "f"} {
		lc.repo.Remove(t, "jobs/"+name+".yaml")
	}
	lc.commit = lc.repo.CommitAndPush(t, "drop four of five")
	src := requestAndWait(t, lc.e, lc.ns, "jobs")
	c := apimeta.FindStatusCondition(src.Status.Conditions, meta.ReadyCondition)
	if c == nil || c.Reason != reconciler.ReasonPruneBlocked || !strings.Contains(c.Message, "4 of 5") {
		t.Fatalf("Ready = %+v", c)
	}
	if got := jobNames(t, lc.e, lc.ns); len(got) != 5 {
		t.Errorf("SparkJobs %v, want all five kept", got)
	}
	patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"`+reconciler.AnnotationAllowPrune+`":"`+lc.commit+`"}}}`))
	if err := lc.e.Client.Patch(t.Context(), &v1alpha1.JobSource{ObjectMeta: metav1.ObjectMeta{Namespace: lc.ns, Name: "jobs"}}, patch); err != nil {
		t.Fatal(err)
	}
	src = requestAndWait(t, lc.e, lc.ns, "jobs")
	if !sourceReady(src, metav1.ConditionTrue, meta.SucceededReason, lc.commit) {
		t.Errorf("conditions %+v", src.Status.Conditions)
	}
	eventually(t, "four pruned", func() (bool, string) {
		got := jobNames(t, lc.e, lc.ns)
		return slices.Equal(got, []string{"b"}), strings.Join(got, ",")
	})
}

// gitOutage: with the git server down nothing changes and the error
// keeps the credentials out; once back, the source recovers.
func (lc *sourceLifecycle) gitOutage(t *testing.T) {
	lc.srv.Stop()
	lc.repo.WriteFile(t, "jobs/g.yaml", jobYAML(t, "g"))
	next := lc.repo.CommitAndPush(t, "add g while down")
	src := requestAndWait(t, lc.e, lc.ns, "jobs")
	c := apimeta.FindStatusCondition(src.Status.Conditions, meta.ReadyCondition)
	if c == nil || c.Reason != reconciler.ReasonGitOperationFailed || strings.Contains(c.Message, "pw-s3cret") ||
		!strings.Contains(c.Message, "stays applied") {
		t.Fatalf("Ready = %+v", c)
	}
	if src.Status.LastAppliedRevision != "main@"+short(lc.commit) || !slices.Equal(jobNames(t, lc.e, lc.ns), []string{"b"}) {
		t.Errorf("last applied %s, jobs %v", src.Status.LastAppliedRevision, jobNames(t, lc.e, lc.ns))
	}
	lc.srv.Start()
	lc.commit = next
	waitSource(t, lc.e, lc.ns, "jobs", "recovered", func(s *v1alpha1.JobSource) bool {
		return sourceReady(s, metav1.ConditionTrue, meta.SucceededReason, lc.commit)
	})
}

// noChangePoll: a reconcile that finds nothing new writes nothing.
func (lc *sourceLifecycle) noChangePoll(t *testing.T) {
	waitSource(t, lc.e, lc.ns, "jobs", "g applied", func(s *v1alpha1.JobSource) bool { return len(s.Status.Inventory) == 2 })
	lastRunIn(t, lc.e, lc.ns, "g", v1alpha1.RunPending)
	if _, err := lc.loop.sources.Reconcile(t.Context(), lc.request()); err != nil { // settle the cache
		t.Fatal(err)
	}
	before := lc.loop.writes.Load()
	if _, err := lc.loop.sources.Reconcile(t.Context(), lc.request()); err != nil {
		t.Fatal(err)
	}
	if n := lc.loop.writes.Load() - before; n != 0 {
		t.Errorf("a no-change poll made %d writes", n)
	}
}

// driftCorrected: a change made to a SparkJob behind sparkcd's back is
// reverted, with an event.
func (lc *sourceLifecycle) driftCorrected(t *testing.T) {
	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"executor":{"instances":7}}}`))
	if err := lc.e.Client.Patch(t.Context(), &v1alpha1.SparkJob{ObjectMeta: metav1.ObjectMeta{Namespace: lc.ns, Name: "b"}}, patch, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b restored", func() (bool, string) {
		if _, err := lc.loop.sources.Reconcile(t.Context(), lc.request()); err != nil {
			return false, err.Error()
		}
		n := *getJob(t, lc.e, lc.ns, "b").Spec.Executor.Instances
		return n == 2, "instances still 7"
	})
	eventually(t, "a DriftCorrected event", func() (bool, string) {
		events := &corev1.EventList{}
		if err := lc.e.Client.List(t.Context(), events, client.InNamespace(lc.ns)); err != nil {
			return false, err.Error()
		}
		for _, ev := range events.Items {
			if ev.Reason == reconciler.EventDriftCorrected && strings.Contains(ev.Message, "spec.executor.instances") {
				return true, ""
			}
		}
		return false, "no event"
	})
}

// TestSourceLifecycle walks one source through commits, against the real
// API server (with the garbage collector) and a real git server: jobs
// appear and run; a change starts a new run; a deletion prunes the job and
// leaves its running driver; a malformed job is reported and leaves its
// applied version alone; a mass deletion is refused until overridden; an
// outage changes nothing; drift is corrected; a no-change poll writes
// nothing.
func TestSourceLifecycle(t *testing.T) {
	lc := newSourceLifecycle(t)
	t.Run("commit jobs: SparkJobs and drivers appear", lc.commitJobs)
	t.Run("commit a change: a new run", lc.commitChange)
	t.Run("commit a deletion: pruned, its running driver survives", lc.commitDeletion)
	t.Run("a malformed job next to good ones", lc.commitMalformed)
	t.Run("a commit deleting 80% prunes nothing until allowed", lc.commitMassDeletion)
	t.Run("git server down: nothing changes; back: recovers", lc.gitOutage)
	t.Run("a no-change poll writes nothing", lc.noChangePoll)
	t.Run("drift is corrected", lc.driftCorrected)
}
