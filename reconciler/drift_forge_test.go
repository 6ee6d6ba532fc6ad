package reconciler_test

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"

	apimeta "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/runid"
)

// TestForgedDigestDoesNotRun: the digest of the reviewed spec lives in the
// JobSource's status.inventory, which only sparkcd writes, not on the
// SparkJob. A patch that changes the image and sets the job's
// applied-spec-digest annotation to the digest of the patched spec starts
// no run; neither does a patch that changes the spec and removes the
// sparkcd annotations and label, to pass the job off as made by hand: the
// inventory still lists it; nor does one that names another source in
// the job's sparkcd.io/source annotation. All show Drifted and are
// restored. A job
// made by hand that carries a copied sparkcd.io/source label and
// annotation is in no inventory, and runs.
func TestForgedDigestDoesNotRun(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	repo := gittest.NewRepo(t)
	repo.WriteFile(t, "jobs/d.yaml", jobYAML(t, "d"))
	commit := repo.CommitAndPush(t, "job d")
	srv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	startSourceLoop(t, e, reconciler.SourceOptions{}, ns)
	newSource(t, e, ns, "jobs", srv.URL(""))
	src := waitSource(t, e, ns, "jobs", "Ready", func(s *v1alpha1.JobSource) bool {
		return sourceReady(s, apimeta.ConditionTrue, meta.SucceededReason, commit)
	})
	first := lastRunIn(t, e, ns, "d", v1alpha1.RunPending)
	setPodStatus(t, e, ns, runid.DriverPodName(first.Name), succeeded)
	lastRunIn(t, e, ns, "d", v1alpha1.RunSucceeded)
	reviewed := getJob(t, e, ns, "d")
	want, err := runid.AppliedSpecDigest(reviewed)
	if err != nil {
		t.Fatal(err)
	}
	if got := inventoryEntry(t, src, ns, "d").Digest; got == "" || got != want[:len(got)] || len(got) != 32 {
		t.Fatalf("inventory digest %q, want the first 32 characters of %s", got, want)
	}

	forged := reviewed.DeepCopy()
	forged.Spec.Image = ptr.To("evil/spark:4")
	forgedDigest, err := runid.AppliedSpecDigest(forged)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, patch string
	}{
		{"annotation set to the patched spec's digest", mustJSON(t, map[string]any{
			"metadata": map[string]any{"annotations": map[string]any{v1alpha1.AnnotationAppliedSpecDigest: forgedDigest}},
			"spec":     map[string]any{"image": "evil/spark:4"},
		})},
		{"sparkcd annotations and label removed", mustJSON(t, map[string]any{
			"metadata": map[string]any{
				"annotations": map[string]any{reconciler.AnnotationSource: nil, v1alpha1.AnnotationAppliedSpecDigest: nil,
					reconciler.AnnotationAppliedHash: nil, v1alpha1.AnnotationRevision: nil},
				"labels": map[string]any{v1alpha1.LabelSource: nil},
			},
			"spec": map[string]any{"image": "evil/spark:5"},
		})},
		{"annotation names another source", mustJSON(t, map[string]any{
			"metadata": map[string]any{"annotations": map[string]any{reconciler.AnnotationSource: ns + "/other"}},
			"spec":     map[string]any{"image": "evil/spark:6"},
		})},
	} {
		t.Run(c.name, func(t *testing.T) {
			setSuspend(t, e, ns, "jobs", true)
			mergePatch(t, e, ns, "d", "kubectl-patch", c.patch, false)
			waitDrifted(t, e, ns, "d")
			assertDriversStay(t, e, ns, "d", 1)
			if inventoryEntry(t, getSource(t, e, ns, "jobs"), ns, "d").Digest == "" {
				t.Error("the job left the inventory")
			}
			setSuspend(t, e, ns, "jobs", false)
			waitRestored(t, e, ns, reviewed)
			assertDriversStay(t, e, ns, "d", 1)
		})
	}

	t.Run("hand-made job with a copied source label and annotation runs", func(t *testing.T) {
		copiedSourceMarksRun(t, e, ns, reviewed)
	})
}

// copiedSourceMarksRun: a job made by hand with the sparkcd.io/source
// label and annotations of a managed job copied onto it is in no
// inventory, and runs what it says, with no revision.
func copiedSourceMarksRun(t *testing.T, e *testenv.Env, ns string, reviewed *v1alpha1.SparkJob) {
	t.Helper()
	copied := piJob(t, ns, "copied", func(j *v1alpha1.SparkJob) {
		j.Labels = maps.Clone(j.Labels)
		if j.Labels == nil {
			j.Labels = map[string]string{}
		}
		j.Annotations = map[string]string{}
		j.Labels[v1alpha1.LabelSource] = reviewed.Labels[v1alpha1.LabelSource]
		for _, k := range []string{reconciler.AnnotationSource, v1alpha1.AnnotationAppliedSpecDigest, reconciler.AnnotationAppliedHash, v1alpha1.AnnotationRevision} {
			j.Annotations[k] = reviewed.Annotations[k]
		}
	})
	if err := e.Client.Create(t.Context(), copied); err != nil {
		t.Fatal(err)
	}
	run := lastRunIn(t, e, ns, "copied", v1alpha1.RunPending)
	if run.Trigger != v1alpha1.TriggerCommit || run.Revision != "" {
		t.Errorf("run: trigger %s, revision %q; want commit, none", run.Trigger, run.Revision)
	}
}

// waitDrifted waits for Ready=False, Drifted on the job.
func waitDrifted(t *testing.T, e *testenv.Env, ns, name string) {
	t.Helper()
	waitJob(t, e, ns, name, "Ready=False, Drifted", func(j *v1alpha1.SparkJob) bool {
		r := findReady(j)
		return r != nil && r.Status == apimeta.ConditionFalse && r.Reason == reconciler.ReasonDrifted
	})
}

func findReady(j *v1alpha1.SparkJob) *apimeta.Condition {
	i := slices.IndexFunc(j.Status.Conditions, func(c apimeta.Condition) bool { return c.Type == meta.ReadyCondition })
	if i < 0 {
		return nil
	}
	return &j.Status.Conditions[i]
}

// inventoryEntry is the source's inventory entry of a job.
func inventoryEntry(t *testing.T, src *v1alpha1.JobSource, ns, name string) v1alpha1.InventoryRef {
	t.Helper()
	for _, ref := range src.Status.Inventory {
		if ref.Namespace == ns && ref.Name == name {
			return ref
		}
	}
	t.Fatalf("JobSource '%s/%s' does not list SparkJob '%s/%s': %v", src.Namespace, src.Name, ns, name, src.Status.Inventory)
	return v1alpha1.InventoryRef{}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
