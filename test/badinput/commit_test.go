package badinput

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// TestBadCommit runs `sparkcd serve` on a repository whose second commit
// breaks one job, adds a unit that does not parse, changes a good job and
// adds another: the good changes are applied; the broken job keeps its
// previous version, with Ready=False naming its file and field; the
// unparsable unit is reported by file; and while it is broken, a job
// removed from git is not pruned.
func TestBadCommit(t *testing.T) {
	e := env.Env(t)
	ns := e.Namespace(t)
	if err := e.Client.Create(t.Context(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "spark"}}); err != nil {
		t.Fatal(err)
	}
	repo := gittest.NewRepo(t)
	for _, name := range []string{"good-a", "good-b", "victim"} {
		repo.WriteFile(t, "jobs/"+name+"/job.yaml", goodJob(name))
	}
	first := repo.CommitAndPush(t, "three good jobs")
	git := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	serve(t, e, nil, ns)
	jobSource(t, e, ns, "jobs", git.URL(""))
	waitApplied(t, e, ns, first)
	before := sparkJob(t, e, ns, "victim")

	bad := strings.Replace(goodJob("victim"), "    memory: 1g\n    serviceAccount", "    memroy: 2g\n    serviceAccount", 1)
	bad = strings.Replace(bad, `["100"]`, `["200"]`, 1)
	repo.WriteFile(t, "jobs/victim/job.yaml", bad)
	repo.WriteFile(t, "jobs/good-a/job.yaml", strings.Replace(goodJob("good-a"), `["100"]`, `["300"]`, 1))
	repo.WriteFile(t, "jobs/good-c/job.yaml", goodJob("good-c"))
	repo.WriteFile(t, "jobs/broken/job.yaml", string(mustRead(t, "testdata/jobs/tab-indented.yaml")))
	second := repo.CommitAndPush(t, "break victim, add broken, change good-a, add good-c")
	requestReconcile(t, e, ns)
	// Some jobs rejected, the others applied: a finding, not a failed
	// source (issue 18, item 9).
	src := waitSourceReady(t, e, ns, second, metav1.ConditionTrue, "JobsRejected")

	if got := sparkJob(t, e, ns, "good-a").Spec.Arguments; fmt.Sprint(got) != "[300]" {
		t.Errorf("good-a arguments %v, want the new commit's [300]", got)
	}
	sparkJob(t, e, ns, "good-c")
	after := sparkJob(t, e, ns, "victim")
	if fmt.Sprint(after.Spec.Arguments) != fmt.Sprint(before.Spec.Arguments) || after.Generation != before.Generation {
		t.Errorf("the rejected job changed: arguments %v generation %d, want %v generation %d",
			after.Spec.Arguments, after.Generation, before.Spec.Arguments, before.Generation)
	}
	eventually(t, "victim Ready=False SourceRejected", func() (bool, string) {
		j := sparkJob(t, e, ns, "victim")
		c := apimeta.FindStatusCondition(j.Status.Conditions, meta.ReadyCondition)
		b, _ := yaml.Marshal(j.Status.Conditions)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == "SourceRejected" &&
			strings.Contains(c.Message, "'jobs/victim/job.yaml'") &&
			strings.Contains(c.Message, "spec.driver.memroy: unknown field 'spec.driver.memroy'"), string(b)
	})
	var sawBroken bool
	for _, jf := range src.Status.Jobs {
		if jf.Source == "jobs/broken/job.yaml" {
			sawBroken = len(jf.Findings) == 1 && jf.Findings[0].Rule == "build-failed" &&
				strings.Contains(jf.Findings[0].Message, "line 6: found character that cannot start any token")
		}
	}
	if !sawBroken {
		b, _ := yaml.Marshal(src.Status.Jobs)
		t.Errorf("status.jobs does not report jobs/broken/job.yaml as build-failed:\n%s", b)
	}

	// good-b leaves git while jobs/broken still does not build: the unit
	// that failed might have held it, so nothing is pruned.
	repo.Remove(t, "jobs/good-b")
	third := repo.CommitAndPush(t, "remove good-b")
	requestReconcile(t, e, ns)
	src = waitSourceReady(t, e, ns, third, metav1.ConditionFalse, "PruneBlocked")
	if c := apimeta.FindStatusCondition(src.Status.Conditions, meta.ReadyCondition); !strings.Contains(c.Message, "would prune 1 of 4 SparkJobs, but 1 of 4 paths did not build") {
		t.Errorf("Ready message %q does not say why nothing was pruned", c.Message)
	}
	sparkJob(t, e, ns, "good-b")
}

func sparkJob(t *testing.T, e *testenv.Env, ns, name string) *v1alpha1.SparkJob {
	t.Helper()
	j := &v1alpha1.SparkJob{}
	if err := e.Client.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: name}, j); err != nil {
		t.Fatalf("SparkJob %s: %v", name, err)
	}
	return j
}

// waitApplied waits until the source "jobs" applied commit and is Ready.
func waitApplied(t *testing.T, e *testenv.Env, ns, commit string) {
	t.Helper()
	src := waitReady(t, e, ns, "jobs", metav1.ConditionTrue, meta.SucceededReason)
	if !strings.HasSuffix(src.Status.LastAppliedRevision, commit) {
		eventually(t, "revision "+commit+" applied", func() (bool, string) {
			src = waitReady(t, e, ns, "jobs", metav1.ConditionTrue, meta.SucceededReason)
			return strings.HasSuffix(src.Status.LastAppliedRevision, commit), src.Status.LastAppliedRevision
		})
	}
}

// waitSourceReady waits until the source "jobs" attempted commit and its
// Ready condition is False with reason.
func waitSourceReady(t *testing.T, e *testenv.Env, ns, commit string, status metav1.ConditionStatus, reason string) *v1alpha1.JobSource {
	t.Helper()
	var src *v1alpha1.JobSource
	eventually(t, "revision "+commit+" attempted", func() (bool, string) {
		src = waitReady(t, e, ns, "jobs", status, reason)
		return strings.HasSuffix(src.Status.LastAttemptedRevision, commit), src.Status.LastAttemptedRevision
	})
	return src
}

// requestReconcile asks the source loop for a fetch now, as a webhook
// does.
func requestReconcile(t *testing.T, e *testenv.Env, ns string) {
	t.Helper()
	key := types.NamespacedName{Namespace: ns, Name: "jobs"}
	if err := reconciler.RequestReconcile(t.Context(), e.Client, key, time.Now()); err != nil {
		t.Fatal(err)
	}
}
