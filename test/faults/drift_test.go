package faults_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// TestDriftCorrected edits a SparkJob that sparkcd manages, twice, as
// other writers do: a `kubectl edit` (a merge patch, field manager
// kubectl-edit) of one job's executors and arguments, and a forced
// server-side apply of another job's image by another tool. The next poll of the
// JobSource, with no request from anyone, must restore git's version and
// record a DriftCorrected event that names the fields that drifted.
func TestDriftCorrected(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	fig := caseFigures(t, "drift")
	ns := sparkNamespace(t, e)
	ctx := context.Background()

	repo := gittest.NewRepo(t)
	repo.WriteFile(t, "jobs/pi.yaml", jobYAML("pi", 100))
	repo.WriteFile(t, "jobs/etl.yaml", jobYAML("etl", 100))
	commit := repo.CommitAndPush(t, "pi, etl")
	git := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	createSource(t, e, ns, git.URL(""), 2*time.Second)
	newServeCluster(t, e, ns).start()
	waitSourceApplied(t, e, ns, commit)

	edits := []struct {
		name    string
		job     string
		edit    func() error
		fields  []string
		restore func(*v1alpha1.SparkJob) bool
	}{
		{
			name: "kubectl edit", job: "pi",
			edit: func() error {
				patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"executor":{"instances":7},"arguments":["999"]}}`))
				return e.Client.Patch(ctx, &v1alpha1.SparkJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pi"}}, patch, client.FieldOwner("kubectl-edit"))
			},
			fields: []string{"spec.executor.instances", "spec.arguments"},
			restore: func(j *v1alpha1.SparkJob) bool {
				return j.Spec.Executor.Instances != nil && *j.Spec.Executor.Instances == 2 && slices.Equal(j.Spec.Arguments, []string{"100"})
			},
		},
		{
			name: "server-side apply by another manager", job: "etl",
			edit: func() error {
				patch := client.RawPatch(types.ApplyPatchType, []byte(`{"apiVersion":"sparkcd.io/v1alpha1","kind":"SparkJob","metadata":{"name":"etl"},"spec":{"image":"example.com/spark:patched"}}`))
				return e.Client.Patch(ctx, &v1alpha1.SparkJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "etl"}}, patch,
					client.FieldOwner("other-tool"), client.ForceOwnership)
			},
			fields: []string{"spec.image"},
			restore: func(j *v1alpha1.SparkJob) bool {
				return j.Spec.Image != nil && *j.Spec.Image == "apache/spark:3.5.3"
			},
		},
	}
	for _, ed := range edits {
		if err := ed.edit(); err != nil {
			t.Fatalf("%s: %v", ed.name, err)
		}
		fig.injected(1)
		eventually(t, ed.name+": git's version restored", func() (bool, string) {
			job := &v1alpha1.SparkJob{}
			if err := e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: ed.job}, job); err != nil {
				return false, err.Error()
			}
			return ed.restore(job), describe(job.Spec)
		})
		waitDriftCorrected(t, e, ns, ed.name, ed.job, ed.fields)
		fig.held(1)
	}
	audit, err := inspectRuns(ctx, e, ns)
	if err != nil {
		t.Fatal(err)
	}
	fig.runs, fig.duplicates = audit.total(), len(audit.duplicates)
	if len(audit.duplicates) > 0 {
		t.Errorf("runs started twice: %s", strings.Join(audit.duplicates, "; "))
	}
}

// waitDriftCorrected waits for a Warning DriftCorrected event on the
// JobSource whose message names the SparkJob ns/job and every one of
// fields; name labels the edit.
func waitDriftCorrected(t *testing.T, e *testenv.Env, ns, name, job string, fields []string) {
	t.Helper()
	eventually(t, name+": a DriftCorrected event naming "+strings.Join(fields, ", "), func() (bool, string) {
		events := &corev1.EventList{}
		if err := e.Client.List(t.Context(), events, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, ev := range events.Items {
			if ev.Reason != reconciler.EventDriftCorrected {
				continue
			}
			seen = append(seen, ev.Message)
			if ev.Type == corev1.EventTypeWarning && ev.InvolvedObject.Kind == v1alpha1.JobSourceKind && containsAll(ev.Message, append(fields, ns+"/"+job)) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("DriftCorrected events: %q", seen)
	})
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
