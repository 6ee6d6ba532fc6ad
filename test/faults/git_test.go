package faults_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// gitFetchTimeout is the JobSource's spec.timeout in the git case; the
// slow server answers after three of them.
const gitFetchTimeout = 2 * time.Second

// Modes of faultyGit.
const (
	gitHealthy int32 = iota
	gitSlow
	gitCorrupt
)

// faultyGit wraps the real git http-backend: slow answers every request
// after sleeping past the fetch timeout; corrupt damages the pack in every
// upload-pack response, as a broken proxy or disk would.
type faultyGit struct {
	next            http.Handler
	mode            atomic.Int32
	slowed, damaged atomic.Int64
}

func (g *faultyGit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch g.mode.Load() {
	case gitSlow:
		g.slowed.Add(1)
		select {
		case <-time.After(3 * gitFetchTimeout):
		case <-r.Context().Done():
			return
		}
	case gitCorrupt:
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
			g.serveCorrupt(w, r)
			return
		}
	}
	g.next.ServeHTTP(w, r)
}

// serveCorrupt answers with the real response, a few bytes of the pack's
// object data inverted: the pkt-lines stay readable, the pack does not.
func (g *faultyGit) serveCorrupt(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	g.next.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	if i := bytes.Index(body, []byte("PACK")); i >= 0 {
		for _, off := range []int{20, 32, 48} {
			if i+off < len(body) {
				body[i+off] ^= 0xff
			}
		}
		g.damaged.Add(1)
	}
	maps.Copy(w.Header(), rec.Header())
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

// clusterView is what the git case compares before and after a fault: the
// SparkJobs, their generations and applied revisions, and the drivers.
type clusterView struct {
	jobs    map[string]string
	drivers []string
}

func viewCluster(t *testing.T, e *testenv.Env, ns string) clusterView {
	t.Helper()
	ctx := context.Background()
	jobs, err := listJobs(ctx, e, ns)
	if err != nil {
		t.Fatal(err)
	}
	v := clusterView{jobs: map[string]string{}}
	for name, j := range jobs {
		v.jobs[name] = fmt.Sprintf("generation %d, revision %s", j.Generation, j.Annotations[v1alpha1.AnnotationRevision])
	}
	drivers, err := listDrivers(ctx, e, ns)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range drivers {
		v.drivers = append(v.drivers, d.Name)
	}
	slices.Sort(v.drivers)
	return v
}

// TestGitFaults applies a first revision, pushes a second one, and then
// makes the git server fail in three ways before it heals: down, slow
// past the fetch timeout, serving a corrupt pack. After each fault the
// first revision stays applied, the JobSource says why with Ready=False,
// GitOperationFailed, and nothing in the cluster changes; once the server
// is healthy the second revision is applied. Then the branch is
// force-pushed to an unrelated history, which sparkcd follows.
func TestGitFaults(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	fig := caseFigures(t, "git-faults")
	ns := sparkNamespace(t, e)

	repo := gittest.NewRepo(t)
	for _, name := range []string{"a", "b", "c"} {
		repo.WriteFile(t, "jobs/"+name+".yaml", jobYAML(name, 100))
	}
	good := repo.CommitAndPush(t, "a, b, c")
	faulty := &faultyGit{next: gittest.Handler(t, repo.Root, nil)}
	git := gittest.StartHTTP(t, faulty, false)
	createSource(t, e, ns, git.URL(""), time.Hour, func(s *v1alpha1.JobSource) {
		s.Spec.Timeout = &metav1.Duration{Duration: gitFetchTimeout}
	})
	newServeCluster(t, e, ns).start()
	waitSourceApplied(t, e, ns, good)
	eventually(t, "a run per job", func() (bool, string) {
		a, err := inspectRuns(context.Background(), e, ns)
		return err == nil && a.total() == 3, fmt.Sprintf("runs %v, %v", a.runs, err)
	})
	before := viewCluster(t, e, ns)

	repo.WriteFile(t, "jobs/a.yaml", jobYAML("a", 200))
	repo.WriteFile(t, "jobs/d.yaml", jobYAML("d", 100))
	next := repo.CommitAndPush(t, "a: 200 slices; d")

	faults := []struct {
		name   string
		inject func()
		heal   func()
		// says is what the Ready message must mention.
		says string
	}{
		{name: "server down", inject: git.Stop, heal: func() {}, says: "connection refused"},
		{name: "slow past the fetch timeout",
			inject: func() { faulty.mode.Store(gitSlow); git.Start() },
			heal:   func() {}, says: "deadline exceeded"},
		// A generous timeout: on a loaded machine a 2 s fetch can time out
		// before the git server has sent the pack to damage.
		{name: "corrupt pack",
			inject: func() { setFetchTimeout(t, e, ns, time.Minute); faulty.mode.Store(gitCorrupt) },
			heal:   func() { faulty.mode.Store(gitHealthy) }},
	}
	for _, f := range faults {
		f.inject()
		fig.injected(1)
		checkFaultKeepsRevision(t, e, ns, f.name, f.says, good, before, fig)
		f.heal()
		if !t.Failed() {
			fig.held(1)
		}
	}
	if faulty.slowed.Load() == 0 || faulty.damaged.Load() == 0 {
		t.Errorf("the faults did not reach the server: %d slowed requests, %d damaged packs", faulty.slowed.Load(), faulty.damaged.Load())
	}

	t.Run("recovers when the server is healthy", func(t *testing.T) { checkRecovered(t, e, ns, next) })
	t.Run("follows a force-push to another history", func(t *testing.T) { checkFollowsForcePush(t, e, ns, repo, fig) })
	audit, err := inspectRuns(context.Background(), e, ns)
	if err != nil {
		t.Fatal(err)
	}
	fig.runs, fig.duplicates = audit.total(), len(audit.duplicates)
	if len(audit.duplicates) > 0 {
		t.Errorf("runs started twice: %s", strings.Join(audit.duplicates, "; "))
	}
}

// checkFaultKeepsRevision requests a reconcile during the fault name and
// wants Ready=False GitOperationFailed saying that good stays applied (and
// says, when set), good still applied, and the cluster as it was before.
func checkFaultKeepsRevision(t *testing.T, e *testenv.Env, ns, name, says, good string, before clusterView, fig *figures) {
	t.Helper()
	src := requestReconcile(t, e, ns)
	ready := apimeta.FindStatusCondition(src.Status.Conditions, meta.ReadyCondition)
	t.Logf("%s: Ready=%s %s: %s", name, ready.Status, ready.Reason, ready.Message)
	switch {
	case ready.Status != metav1.ConditionFalse || ready.Reason != reconciler.ReasonGitOperationFailed:
		t.Errorf("%s: Ready=%s %s, want False %s", name, ready.Status, ready.Reason, reconciler.ReasonGitOperationFailed)
	case !strings.Contains(ready.Message, "stays applied") || !strings.Contains(ready.Message, good):
		t.Errorf("%s: the Ready message does not say that revision %s stays applied: %s", name, good, ready.Message)
	case says != "" && !strings.Contains(ready.Message, says):
		t.Errorf("%s: the Ready message does not say %q: %s", name, says, ready.Message)
	case !strings.HasSuffix(src.Status.LastAppliedRevision, good):
		t.Errorf("%s: lastAppliedRevision %s, want the last good %s", name, src.Status.LastAppliedRevision, good)
	}
	if after := viewCluster(t, e, ns); !equalViews(before, after) {
		t.Errorf("%s: the cluster changed:\nbefore %+v\nafter  %+v", name, before, after)
		fig.lost++
	}
}

// setFetchTimeout sets the JobSource's spec.timeout.
func setFetchTimeout(t *testing.T, e *testenv.Env, ns string, d time.Duration) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		src, err := getSource(t, e, ns)
		if err != nil {
			return err
		}
		src.Spec.Timeout = &metav1.Duration{Duration: d}
		return e.Client.Update(context.Background(), src)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkRecovered requests a reconcile and wants next applied: a at 200
// slices, and d added.
func checkRecovered(t *testing.T, e *testenv.Env, ns, next string) {
	requestReconcile(t, e, ns)
	waitSourceApplied(t, e, ns, next)
	jobs, err := listJobs(context.Background(), e, ns)
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(jobs)); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Errorf("SparkJobs %v after recovery, want a, b, c, d", got)
	}
	if args := jobs["a"].Spec.Arguments; !slices.Equal(args, []string{"200"}) {
		t.Errorf("a has arguments %v after recovery, want [200]", args)
	}
}

// checkFollowsForcePush force-pushes an unrelated history of a, b and c
// at 300 slices, and wants it applied and d pruned.
func checkFollowsForcePush(t *testing.T, e *testenv.Env, ns string, repo *gittest.Repo, fig *figures) {
	fig.injected(1)
	repo.Git(t, "checkout", "-q", "--orphan", "rewritten")
	repo.Git(t, "rm", "-rqf", ".")
	for _, name := range []string{"a", "b", "c"} {
		repo.WriteFile(t, "jobs/"+name+".yaml", jobYAML(name, 300))
	}
	rewritten := repo.Commit(t, "rewritten history: a, b, c at 300 slices")
	repo.Git(t, "branch", "-M", "rewritten", "main")
	repo.Push(t)
	requestReconcile(t, e, ns)
	waitSourceApplied(t, e, ns, rewritten)
	jobs, err := listJobs(context.Background(), e, ns)
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(jobs)); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("SparkJobs %v after the force-push, want a, b, c (d pruned)", got)
	}
	for name, j := range jobs {
		if !slices.Equal(j.Spec.Arguments, []string{"300"}) {
			t.Errorf("%s has arguments %v after the force-push, want [300]", name, j.Spec.Arguments)
		}
	}
	if !t.Failed() {
		fig.held(1)
	}
}

func equalViews(a, b clusterView) bool {
	return maps.Equal(a.jobs, b.jobs) && slices.Equal(a.drivers, b.drivers)
}
