package reconciler_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// deleteFixture is a JobSource "jobs" in ns that applied the SparkJobs a
// and b: a's driver is running, b's has succeeded.
type deleteFixture struct {
	e                     *testenv.Env
	ns                    string
	running, finished     string
	runningUID, finishUID types.UID
}

// newDeleteFixture starts the loops on ns and a source of two jobs, and
// waits until the source holds its finalizer and both jobs have run.
func newDeleteFixture(t *testing.T, prune bool) *deleteFixture {
	t.Helper()
	e := env.Env(t)
	f := &deleteFixture{e: e, ns: sparkNamespace(t, e)}
	repo := gittest.NewRepo(t)
	repo.WriteFile(t, "jobs/a.yaml", jobYAML(t, "a"))
	repo.WriteFile(t, "jobs/b.yaml", jobYAML(t, "b"))
	commit := repo.CommitAndPush(t, "two jobs")
	srv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	startSourceLoop(t, e, reconciler.SourceOptions{}, f.ns)
	newSource(t, e, f.ns, "jobs", srv.URL(""), func(s *v1alpha1.JobSource) { s.Spec.Prune = prune })
	waitSource(t, e, f.ns, "jobs", "Ready with the finalizer", func(s *v1alpha1.JobSource) bool {
		return sourceReady(s, metav1.ConditionTrue, meta.SucceededReason, commit) && slices.Contains(s.Finalizers, reconciler.SourceFinalizer)
	})
	runA := lastRunIn(t, e, f.ns, "a", v1alpha1.RunPending)
	setPodStatus(t, e, f.ns, runA.Name+"-driver", running)
	lastRunIn(t, e, f.ns, "a", v1alpha1.RunRunning)
	runB := lastRunIn(t, e, f.ns, "b", v1alpha1.RunPending)
	setPodStatus(t, e, f.ns, runB.Name+"-driver", succeeded)
	lastRunIn(t, e, f.ns, "b", v1alpha1.RunSucceeded)
	f.running, f.finished = runA.Name+"-driver", runB.Name+"-driver"
	f.runningUID, f.finishUID = f.pod(t, f.running).UID, f.pod(t, f.finished).UID
	return f
}

func (f *deleteFixture) pod(t *testing.T, name string) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{}
	if err := f.e.Client.Get(context.Background(), types.NamespacedName{Namespace: f.ns, Name: name}, pod); err != nil {
		t.Fatalf("driver '%s': %v", name, err)
	}
	return pod
}

// deleteSource deletes the JobSource and waits until it is gone.
func (f *deleteFixture) deleteSource(t *testing.T) {
	t.Helper()
	src := &v1alpha1.JobSource{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "jobs"}}
	if err := f.e.Client.Delete(t.Context(), src); err != nil {
		t.Fatal(err)
	}
	f.waitGone(t, "JobSource jobs", src)
}

func (f *deleteFixture) waitGone(t *testing.T, what string, obj client.Object) {
	t.Helper()
	eventually(t, what+" gone", func() (bool, string) {
		err := f.e.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
		if err == nil {
			return false, "still there, finalizers " + strings.Join(obj.GetFinalizers(), ",")
		}
		return apierrors.IsNotFound(err), err.Error()
	})
}

// TestSourceDeletePrune deletes a JobSource with spec.prune: its SparkJobs
// go, and their drivers stay, owned by nothing — the running one keeps
// running, the finished one waits for the cleanup — since the garbage
// collector (running here) honours the Orphan propagation.
func TestSourceDeletePrune(t *testing.T) {
	f := newDeleteFixture(t, true)
	f.deleteSource(t)
	for _, name := range []string{"a", "b"} {
		f.waitGone(t, "SparkJob "+name, &v1alpha1.SparkJob{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name}})
	}
	for _, d := range []struct {
		name string
		uid  types.UID
	}{{f.running, f.runningUID}, {f.finished, f.finishUID}} {
		pod := f.pod(t, d.name)
		if pod.UID != d.uid || !pod.DeletionTimestamp.IsZero() || len(pod.OwnerReferences) != 0 {
			t.Errorf("driver %s: uid %s (was %s), deleting %v, owners %v", d.name, pod.UID, d.uid, pod.DeletionTimestamp, pod.OwnerReferences)
		}
	}
	if phase := f.pod(t, f.running).Status.Phase; phase != corev1.PodRunning {
		t.Errorf("running driver in phase %s", phase)
	}
}

// TestSourceDeleteRelease deletes a JobSource without spec.prune: its
// SparkJobs stay, with their spec, runs and drivers, without the source's
// label and annotations, and each says so in an event.
func TestSourceDeleteRelease(t *testing.T) {
	f := newDeleteFixture(t, false)
	before := getJob(t, f.e, f.ns, "a")
	f.deleteSource(t)
	for _, name := range []string{"a", "b"} {
		job := getJob(t, f.e, f.ns, name)
		var left []string
		for _, k := range []string{reconciler.AnnotationSource, reconciler.AnnotationAppliedHash, v1alpha1.AnnotationRevision, v1alpha1.AnnotationSourceFile} {
			if _, ok := job.Annotations[k]; ok {
				left = append(left, "annotation "+k)
			}
		}
		if _, ok := job.Labels[v1alpha1.LabelSource]; ok {
			left = append(left, "label "+v1alpha1.LabelSource)
		}
		if len(left) > 0 || !job.DeletionTimestamp.IsZero() {
			t.Errorf("SparkJob %s: deleting %v, kept %v", name, job.DeletionTimestamp, left)
		}
	}
	if after := getJob(t, f.e, f.ns, "a"); after.Generation != before.Generation || after.UID != before.UID {
		t.Errorf("SparkJob a changed: generation %d → %d, uid %s → %s", before.Generation, after.Generation, before.UID, after.UID)
	}
	if pod := f.pod(t, f.running); len(pod.OwnerReferences) != 1 || pod.OwnerReferences[0].Name != "a" {
		t.Errorf("running driver owners %v, want SparkJob a", pod.OwnerReferences)
	}
	eventually(t, "a Released event on each SparkJob", func() (bool, string) {
		events := &corev1.EventList{}
		if err := f.e.Client.List(t.Context(), events, client.InNamespace(f.ns)); err != nil {
			return false, err.Error()
		}
		var got []string
		for _, ev := range events.Items {
			if ev.Reason == reconciler.EventReleased && ev.InvolvedObject.Kind == v1alpha1.SparkJobKind &&
				strings.Contains(ev.Message, "JobSource '"+f.ns+"/jobs' was deleted") {
				got = append(got, ev.InvolvedObject.Name)
			}
		}
		slices.Sort(got)
		return slices.Equal(got, []string{"a", "b"}), "Released events on " + strings.Join(got, ",")
	})
}

// denySparkJobDeletes makes the API server refuse, through a
// ValidatingAdmissionPolicy, every deletion of a SparkJob in ns, and waits
// until it does; the function it returns lifts the refusal.
func denySparkJobDeletes(t *testing.T, e *testenv.Env, ns, probe string) func() {
	t.Helper()
	ctx := t.Context()
	policy := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-no-delete"},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionv1.Fail),
			MatchConstraints: &admissionv1.MatchResources{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}},
				ResourceRules: []admissionv1.NamedRuleWithOperations{{RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Delete},
					Rule:       admissionv1.Rule{APIGroups: []string{v1alpha1.GroupVersion.Group}, APIVersions: []string{"*"}, Resources: []string{"sparkjobs"}},
				}}},
			},
			Validations: []admissionv1.Validation{{Expression: "false", Message: "SparkJob deletions are paused"}},
		},
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: policy.Name},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName: policy.Name, ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
		},
	}
	for _, obj := range []client.Object{policy, binding} {
		if err := e.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	lift := func() {
		for _, obj := range []client.Object{binding, policy} {
			if err := e.Client.Delete(context.Background(), obj); err != nil && !apierrors.IsNotFound(err) {
				t.Error(err)
			}
		}
	}
	t.Cleanup(lift)
	job := &v1alpha1.SparkJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: probe}}
	eventually(t, "the policy in force", func() (bool, string) {
		err := e.Client.Delete(ctx, job, client.DryRunAll)
		return err != nil && strings.Contains(err.Error(), "paused"), "a dry-run deletion answered " + errString(err)
	})
	return lift
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// TestSourceDeleteRetry deletes a JobSource with spec.prune whose
// SparkJobs the API server refuses to delete: the source stays, with its
// finalizer and the reason in Ready=False, until the refusal is lifted.
func TestSourceDeleteRetry(t *testing.T) {
	f := newDeleteFixture(t, true)
	ctx := t.Context()
	lift := denySparkJobDeletes(t, f.e, f.ns, "a")
	src := &v1alpha1.JobSource{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "jobs"}}
	if err := f.e.Client.Delete(ctx, src); err != nil {
		t.Fatal(err)
	}
	waitSource(t, f.e, f.ns, "jobs", "Ready=False PruneFailed", func(s *v1alpha1.JobSource) bool {
		c := apimeta.FindStatusCondition(s.Status.Conditions, meta.ReadyCondition)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == reconciler.ReasonPruneFailed &&
			strings.Contains(c.Message, "paused") && slices.Contains(s.Finalizers, reconciler.SourceFinalizer)
	})
	if got := jobNames(t, f.e, f.ns); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("SparkJobs %v, want a and b kept", got)
	}
	lift()
	f.waitGone(t, "JobSource jobs", src)
	for _, name := range []string{"a", "b"} {
		f.waitGone(t, "SparkJob "+name, &v1alpha1.SparkJob{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name}})
	}
	if pod := f.pod(t, f.running); len(pod.OwnerReferences) != 0 {
		t.Errorf("running driver owners %v", pod.OwnerReferences)
	}
}

// TestSourceDeleteNamespace deletes the namespace of a JobSource with
// spec.prune whose SparkJob, in another namespace, the API server refuses
// to delete: the namespace deletion is not held up by the finalizer, and
// the SparkJob left behind keeps the label to find it by.
func TestSourceDeleteNamespace(t *testing.T) {
	e := env.Env(t)
	home, target := e.Namespace(t), sparkNamespace(t, e)
	repo := gittest.NewRepo(t)
	repo.WriteFile(t, "jobs/a.yaml", strings.Replace(jobYAML(t, "a"), "metadata:\n", "metadata:\n  namespace: "+target+"\n", 1))
	commit := repo.CommitAndPush(t, "a job in the target namespace")
	srv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	startSourceLoop(t, e, reconciler.SourceOptions{}, home, target)
	newSource(t, e, home, "jobs", srv.URL(""), func(s *v1alpha1.JobSource) { s.Spec.TargetNamespaces = []string{target} })
	waitSource(t, e, home, "jobs", "Ready with the finalizer", func(s *v1alpha1.JobSource) bool {
		return sourceReady(s, metav1.ConditionTrue, meta.SucceededReason, commit) && slices.Contains(s.Finalizers, reconciler.SourceFinalizer)
	})
	denySparkJobDeletes(t, e, target, "a")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: home}}
	if err := e.Client.Delete(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	f := &deleteFixture{e: e, ns: home}
	f.waitGone(t, "namespace "+home, ns)
	job := getJob(t, e, target, "a")
	if !job.DeletionTimestamp.IsZero() || job.Annotations[reconciler.AnnotationSource] != home+"/jobs" || job.Labels[v1alpha1.LabelSource] != home+".jobs" {
		t.Errorf("SparkJob a: deleting %v, labels %v, annotations %v", job.DeletionTimestamp, job.Labels, job.Annotations)
	}
}
