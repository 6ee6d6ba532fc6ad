package reconciler_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/runid"
)

// deniedImage is an image the admission policy of TestApplyPendingRunsNothing
// refuses.
const deniedImage = "denied/spark:1"

// TestApplyPendingRunsNothing: the source loop records a new digest in its
// inventory before it applies the job. When the apply then fails (an
// admission policy refuses it), the job keeps its previous spec, which
// the inventory no longer records: no run starts, and the job says
// ApplyPending, not Drifted — nobody changed it. Once the policy is gone
// the retry applies it, and its run starts at the new revision.
func TestApplyPendingRunsNothing(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	repo := gittest.NewRepo(t)
	repo.WriteFile(t, "jobs/p.yaml", jobYAML(t, "p"))
	commit := repo.CommitAndPush(t, "job p")
	srv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	startSourceLoop(t, e, reconciler.SourceOptions{}, ns)
	newSource(t, e, ns, "jobs", srv.URL(""))
	waitSource(t, e, ns, "jobs", "Ready", func(s *v1alpha1.JobSource) bool {
		return sourceReady(s, metav1.ConditionTrue, meta.SucceededReason, commit)
	})
	first := lastRunIn(t, e, ns, "p", v1alpha1.RunPending)
	setPodStatus(t, e, ns, runid.DriverPodName(first.Name), succeeded)
	lastRunIn(t, e, ns, "p", v1alpha1.RunSucceeded)
	before := inventoryEntry(t, getSource(t, e, ns, "jobs"), ns, "p").Digest

	removePolicy := refuseImage(t, e, ns, deniedImage)
	repo.WriteFile(t, "jobs/p.yaml", strings.Replace(jobYAML(t, "p"), reviewedImage, deniedImage, 1))
	next := repo.CommitAndPush(t, "job p: another image")
	requestAndWait(t, e, ns, "jobs")
	src := waitSource(t, e, ns, "jobs", "the new digest recorded", func(s *v1alpha1.JobSource) bool {
		for _, ref := range s.Status.Inventory {
			if ref.Name == "p" && ref.Digest != before && ref.Previous == before {
				return true
			}
		}
		return false
	})
	if c := findSourceReady(src); c == nil || c.Status != metav1.ConditionFalse {
		t.Errorf("source Ready %+v, want False: the apply was refused", c)
	}
	waitJob(t, e, ns, "p", "Ready=False, ApplyPending", func(j *v1alpha1.SparkJob) bool {
		r := findReady(j)
		return r != nil && r.Status == metav1.ConditionFalse && r.Reason == reconciler.ReasonApplyPending
	})
	assertDriversStay(t, e, ns, "p", 1)
	if *getJob(t, e, ns, "p").Spec.Image != reviewedImage {
		t.Fatal("the refused spec was applied")
	}

	removePolicy()
	requestAndWait(t, e, ns, "jobs")
	job := waitJob(t, e, ns, "p", "a run of the new revision", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun != nil && j.Status.LastRun.Name != first.Name
	})
	if run := job.Status.LastRun; run.Revision != "main@"+short(next) || run.Trigger != v1alpha1.TriggerCommit {
		t.Errorf("run: trigger %s, revision %s; want commit, main@%s", run.Trigger, run.Revision, short(next))
	}
	if got := drivers(t, e, ns, "p"); len(got) != 2 {
		t.Errorf("%d drivers, want 2", len(got))
	}
	entry := inventoryEntry(t, getSource(t, e, ns, "jobs"), ns, "p")
	if d, err := runid.AppliedSpecDigest(job); err != nil || entry.Previous != "" || !strings.HasPrefix(d, entry.Digest) {
		t.Errorf("inventory entry %+v after the apply, job digest %s (%v)", entry, d, err)
	}
}

// refuseImage makes the API server refuse, in ns, a SparkJob write with
// the image, waits until it does, and returns what lifts the refusal.
func refuseImage(t *testing.T, e *testenv.Env, ns, image string) func() {
	t.Helper()
	name := "refuse-" + ns
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}},
				ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{v1alpha1.GroupVersion.Group}, APIVersions: []string{"*"}, Resources: []string{"sparkjobs"}},
				}}},
			},
			Validations: []admissionregistrationv1.Validation{{
				Expression: fmt.Sprintf("!has(object.spec.image) || object.spec.image != %q", image), Message: image + " is refused here"}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}},
	}
	remove := func() {
		for _, obj := range []client.Object{binding, policy} {
			_ = e.Client.Delete(context.Background(), obj)
		}
		probeImage(t, e, ns, image, false)
	}
	for _, obj := range []client.Object{policy, binding} {
		if err := e.Client.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Client.Delete(context.Background(), obj) })
	}
	probeImage(t, e, ns, image, true)
	return remove
}

// probeImage waits until a dry-run create of a SparkJob with the image is
// refused (or, with refused false, admitted).
func probeImage(t *testing.T, e *testenv.Env, ns, image string, refused bool) {
	t.Helper()
	probe := piJob(t, ns, "probe", func(j *v1alpha1.SparkJob) { j.Spec.Image = ptr.To(image) })
	eventually(t, fmt.Sprintf("a SparkJob with image %s refused: %t", image, refused), func() (bool, string) {
		err := e.Client.Create(t.Context(), probe.DeepCopy(), client.DryRunAll)
		return (apierrors.IsInvalid(err) || apierrors.IsForbidden(err)) == refused, fmt.Sprint(err)
	})
}

func findSourceReady(s *v1alpha1.JobSource) *metav1.Condition {
	for i := range s.Status.Conditions {
		if s.Status.Conditions[i].Type == meta.ReadyCondition {
			return &s.Status.Conditions[i]
		}
	}
	return nil
}
