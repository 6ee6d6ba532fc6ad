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
	"github.com/sparkcd/sparkcd/reconciler"
)

// TestSourceLifecycle walks one source through commits, against the real
// API server (with the garbage collector) and a real git server: jobs
// appear and run; a change starts a new run; a deletion prunes the job and
// leaves its running driver; a malformed job is reported and leaves its
// applied version alone; a mass deletion is refused until overridden; an
// outage changes nothing; drift is corrected; a no-change poll writes
// nothing.
func TestSourceLifecycle(t *testing.T) {
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	repo := gittest.NewRepo(t)
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		repo.WriteFile(t, "jobs/"+name+".yaml", jobYAML(t, name))
	}
	commit := repo.CommitAndPush(t, "five jobs")
	srv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, gittest.BasicAuth("git", "pw-s3cret")), false)
	if err := e.Client.Create(t.Context(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "git"},
		Data:       map[string][]byte{"username": []byte("git"), "password": []byte("pw-s3cret")},
	}); err != nil {
		t.Fatal(err)
	}
	l := startSourceLoop(t, e, reconciler.SourceOptions{}, ns)
	newSource(t, e, ns, "jobs", srv.URL(""), func(s *v1alpha1.JobSource) {
		s.Spec.SecretRef = &meta.LocalObjectReference{Name: "git"}
	})
	ctx := t.Context()

	t.Run("commit jobs: SparkJobs and drivers appear", func(t *testing.T) {
		src := waitSource(t, e, ns, "jobs", "Ready", func(s *v1alpha1.JobSource) bool {
			return sourceReady(s, metav1.ConditionTrue, meta.SucceededReason, commit)
		})
		if diff := cmp.Diff([]string{"a", "b", "c", "d", "e"}, jobNames(t, e, ns)); diff != "" {
			t.Errorf("SparkJobs (-want +got):\n%s", diff)
		}
		if len(src.Status.Inventory) != 5 || src.Status.LastAppliedRevision != "main@"+short(commit) {
			t.Errorf("inventory %v, last applied %q", src.Status.Inventory, src.Status.LastAppliedRevision)
		}
		job := getJob(t, e, ns, "a")
		for k, want := range map[string]string{reconciler.AnnotationSource: ns + "/jobs", v1alpha1.AnnotationRevision: "main@" + short(commit)} {
			if job.Annotations[k] != want {
				t.Errorf("annotation %s = %q, want %q", k, job.Annotations[k], want)
			}
		}
		if job.Labels[v1alpha1.LabelManagedBy] != v1alpha1.ManagedByValue {
			t.Errorf("labels %v", job.Labels)
		}
		lastRunIn(t, e, ns, "a", v1alpha1.RunPending)
	})

	var firstRun v1alpha1.RunStatus
	t.Run("commit a change: a new run", func(t *testing.T) {
		firstRun = lastRunIn(t, e, ns, "a", v1alpha1.RunPending)
		setPodStatus(t, e, ns, firstRun.Name+"-driver", succeeded)
		lastRunIn(t, e, ns, "a", v1alpha1.RunSucceeded)
		repo.WriteFile(t, "jobs/a.yaml", jobYAML(t, "a", "200"))
		commit = repo.CommitAndPush(t, "a takes 200")
		requestAndWait(t, e, ns, "jobs")
		waitJob(t, e, ns, "a", "a second run", func(j *v1alpha1.SparkJob) bool {
			return j.Status.LastRun != nil && j.Status.LastRun.Name != firstRun.Name
		})
		if rev := getJob(t, e, ns, "b").Annotations[v1alpha1.AnnotationRevision]; strings.HasSuffix(rev, commit) {
			t.Errorf("b, unchanged, was rewritten with revision %s", rev)
		}
	})

	t.Run("commit a deletion: pruned, its running driver survives", func(t *testing.T) {
		second := lastRunIn(t, e, ns, "a", v1alpha1.RunPending)
		setPodStatus(t, e, ns, second.Name+"-driver", running)
		lastRunIn(t, e, ns, "a", v1alpha1.RunRunning)
		repo.Remove(t, "jobs/a.yaml")
		commit = repo.CommitAndPush(t, "drop a")
		requestAndWait(t, e, ns, "jobs")
		eventually(t, "SparkJob a pruned", func() (bool, string) {
			return !slices.Contains(jobNames(t, e, ns), "a"), "a still there"
		})
		// The finished driver stays owned: the garbage collector deleting
		// it shows it has handled the job's deletion.
		eventually(t, "the finished driver collected", func() (bool, string) {
			err := e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: firstRun.Name + "-driver"}, &corev1.Pod{})
			return apierrors.IsNotFound(err), "still there"
		})
		pod := &corev1.Pod{}
		if err := e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: second.Name + "-driver"}, pod); err != nil {
			t.Fatalf("the running driver is gone: %v", err)
		}
		if len(pod.OwnerReferences) != 0 || pod.Labels[v1alpha1.LabelManagedBy] != v1alpha1.ManagedByValue {
			t.Errorf("running driver: owners %v, labels %v", pod.OwnerReferences, pod.Labels)
		}
	})

	t.Run("a malformed job next to good ones", func(t *testing.T) {
		before := getJob(t, e, ns, "b")
		repo.WriteFile(t, "jobs/b.yaml", strings.Replace(jobYAML(t, "b"), "instances: 2", "instances: two", 1))
		repo.WriteFile(t, "jobs/f.yaml", jobYAML(t, "f"))
		commit = repo.CommitAndPush(t, "break b, add f")
		src := requestAndWait(t, e, ns, "jobs")
		if !sourceReady(src, metav1.ConditionFalse, reconciler.ReasonJobsRejected, commit) {
			t.Errorf("conditions %+v", src.Status.Conditions)
		}
		if !slices.Contains(jobNames(t, e, ns), "f") {
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
		after := getJob(t, e, ns, "b")
		if after.Generation != before.Generation || *after.Spec.Executor.Instances != 2 {
			t.Errorf("b changed: generation %d → %d", before.Generation, after.Generation)
		}
		waitJob(t, e, ns, "b", "Ready=False SourceRejected", func(j *v1alpha1.SparkJob) bool {
			c := apimeta.FindStatusCondition(j.Status.Conditions, meta.ReadyCondition)
			return c != nil && c.Reason == reconciler.ReasonSourceRejected && strings.Contains(c.Message, "jobs/b.yaml") &&
				strings.Contains(c.Message, "spec.executor.instances")
		})
		repo.WriteFile(t, "jobs/b.yaml", jobYAML(t, "b"))
		commit = repo.CommitAndPush(t, "fix b")
		requestAndWait(t, e, ns, "jobs")
		waitJob(t, e, ns, "b", "the rejection cleared", func(j *v1alpha1.SparkJob) bool {
			c := apimeta.FindStatusCondition(j.Status.Conditions, meta.ReadyCondition)
			_, marked := j.Annotations[reconciler.AnnotationSourceRejected]
			return !marked && c != nil && c.Reason != reconciler.ReasonSourceRejected
		})
	})

	t.Run("a commit deleting 80% prunes nothing until allowed", func(t *testing.T) {
		for _, name := range []string{"c", "d", "e", "f"} {
			repo.Remove(t, "jobs/"+name+".yaml")
		}
		commit = repo.CommitAndPush(t, "drop four of five")
		src := requestAndWait(t, e, ns, "jobs")
		c := apimeta.FindStatusCondition(src.Status.Conditions, meta.ReadyCondition)
		if c == nil || c.Reason != reconciler.ReasonPruneBlocked || !strings.Contains(c.Message, "4 of 5") {
			t.Fatalf("Ready = %+v", c)
		}
		if got := jobNames(t, e, ns); len(got) != 5 {
			t.Errorf("SparkJobs %v, want all five kept", got)
		}
		patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"`+reconciler.AnnotationAllowPrune+`":"`+commit+`"}}}`))
		if err := e.Client.Patch(ctx, &v1alpha1.JobSource{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "jobs"}}, patch); err != nil {
			t.Fatal(err)
		}
		src = requestAndWait(t, e, ns, "jobs")
		if !sourceReady(src, metav1.ConditionTrue, meta.SucceededReason, commit) {
			t.Errorf("conditions %+v", src.Status.Conditions)
		}
		eventually(t, "four pruned", func() (bool, string) {
			got := jobNames(t, e, ns)
			return slices.Equal(got, []string{"b"}), strings.Join(got, ",")
		})
	})

	t.Run("git server down: nothing changes; back: recovers", func(t *testing.T) {
		srv.Stop()
		repo.WriteFile(t, "jobs/g.yaml", jobYAML(t, "g"))
		next := repo.CommitAndPush(t, "add g while down")
		src := requestAndWait(t, e, ns, "jobs")
		c := apimeta.FindStatusCondition(src.Status.Conditions, meta.ReadyCondition)
		if c == nil || c.Reason != reconciler.ReasonGitOperationFailed || strings.Contains(c.Message, "pw-s3cret") ||
			!strings.Contains(c.Message, "stays applied") {
			t.Fatalf("Ready = %+v", c)
		}
		if src.Status.LastAppliedRevision != "main@"+short(commit) || !slices.Equal(jobNames(t, e, ns), []string{"b"}) {
			t.Errorf("last applied %s, jobs %v", src.Status.LastAppliedRevision, jobNames(t, e, ns))
		}
		srv.Start()
		commit = next
		waitSource(t, e, ns, "jobs", "recovered", func(s *v1alpha1.JobSource) bool {
			return sourceReady(s, metav1.ConditionTrue, meta.SucceededReason, commit)
		})
	})

	req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: "jobs"}}
	t.Run("a no-change poll writes nothing", func(t *testing.T) {
		waitSource(t, e, ns, "jobs", "g applied", func(s *v1alpha1.JobSource) bool { return len(s.Status.Inventory) == 2 })
		lastRunIn(t, e, ns, "g", v1alpha1.RunPending)
		if _, err := l.sources.Reconcile(ctx, req); err != nil { // settle the cache
			t.Fatal(err)
		}
		before := l.writes.Load()
		if _, err := l.sources.Reconcile(ctx, req); err != nil {
			t.Fatal(err)
		}
		if n := l.writes.Load() - before; n != 0 {
			t.Errorf("a no-change poll made %d writes", n)
		}
	})

	t.Run("drift is corrected", func(t *testing.T) {
		patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"executor":{"instances":7}}}`))
		if err := e.Client.Patch(ctx, &v1alpha1.SparkJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "b"}}, patch, client.FieldOwner("kubectl-edit")); err != nil {
			t.Fatal(err)
		}
		eventually(t, "b restored", func() (bool, string) {
			if _, err := l.sources.Reconcile(ctx, req); err != nil {
				return false, err.Error()
			}
			n := *getJob(t, e, ns, "b").Spec.Executor.Instances
			return n == 2, "instances still 7"
		})
		eventually(t, "a DriftCorrected event", func() (bool, string) {
			events := &corev1.EventList{}
			if err := e.Client.List(ctx, events, client.InNamespace(ns)); err != nil {
				return false, err.Error()
			}
			for _, ev := range events.Items {
				if ev.Reason == reconciler.EventDriftCorrected && strings.Contains(ev.Message, "spec.executor.instances") {
					return true, ""
				}
			}
			return false, "no event"
		})
	})
}
