package faults_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// TestGitCacheUnwritable applies a first revision, then takes the write
// permission of `sparkcd serve`'s git cache (--cache-dir) away and pushes
// a second commit. The JobSource must say so — Ready=False, StorageFailed,
// naming the cache directory and the errno, and that the first revision
// stays applied — and nothing in the cluster may change. Once the cache
// can be written again, the second revision is applied.
func TestGitCacheUnwritable(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	fig := caseFigures(t, "git-cache-unwritable")
	ns := sparkNamespace(t, e)

	repo := gittest.NewRepo(t)
	for _, name := range []string{"a", "b", "c"} {
		repo.WriteFile(t, "jobs/"+name+".yaml", jobYAML(name, 100))
	}
	good := repo.CommitAndPush(t, "a, b, c")
	git := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	createSource(t, e, ns, git.URL(""), time.Hour)

	cache := newCacheFault(t, e)
	serve := newServeCluster(t, e, ns, "--cache-dir", cache.dir, "--kubeconfig", cache.kubeconfig)
	serve.configure = cache.configure
	serve.start()
	waitSourceApplied(t, e, ns, good)
	eventually(t, "a run per job", func() (bool, string) {
		a, err := inspectRuns(context.Background(), e, ns)
		return err == nil && a.total() == 3, fmt.Sprintf("runs %v, %v", a.runs, err)
	})
	before := viewCluster(t, e, ns)

	repo.WriteFile(t, "jobs/a.yaml", jobYAML("a", 200))
	repo.WriteFile(t, "jobs/d.yaml", jobYAML("d", 100))
	next := repo.CommitAndPush(t, "a: 200 slices; d")

	cache.lock(t)
	fig.injected(1)
	src := requestReconcile(t, e, ns)
	ready := apimeta.FindStatusCondition(src.Status.Conditions, meta.ReadyCondition)
	t.Logf("cache not writable: Ready=%s %s: %s", ready.Status, ready.Reason, ready.Message)
	switch {
	case ready.Status != metav1.ConditionFalse || ready.Reason != reconciler.ReasonStorageFailed:
		t.Errorf("Ready=%s %s, want False %s", ready.Status, ready.Reason, reconciler.ReasonStorageFailed)
	case !strings.Contains(ready.Message, cache.dir) || !strings.Contains(ready.Message, "(EACCES)"):
		t.Errorf("the Ready message does not name the cache directory '%s' and the errno EACCES: %s", cache.dir, ready.Message)
	case !strings.Contains(ready.Message, "stays applied") || !strings.Contains(ready.Message, good):
		t.Errorf("the Ready message does not say that revision %s stays applied: %s", good, ready.Message)
	case !strings.HasSuffix(src.Status.LastAppliedRevision, good):
		t.Errorf("lastAppliedRevision %s, want the last good %s", src.Status.LastAppliedRevision, good)
	}
	if after := viewCluster(t, e, ns); !equalViews(before, after) {
		t.Errorf("the cluster changed while the cache was not writable:\nbefore %+v\nafter  %+v", before, after)
		fig.lost++
	}

	cache.unlock(t)
	requestReconcile(t, e, ns)
	waitSourceApplied(t, e, ns, next)
	jobs, err := listJobs(context.Background(), e, ns)
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(jobs)); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Errorf("SparkJobs %v once the cache is writable, want a, b, c, d", got)
	}
	if args := jobs["a"].Spec.Arguments; !slices.Equal(args, []string{"200"}) {
		t.Errorf("a has arguments %v once the cache is writable, want [200]", args)
	}
	audit, err := inspectRuns(context.Background(), e, ns)
	if err != nil {
		t.Fatal(err)
	}
	fig.runs, fig.duplicates = audit.total(), len(audit.duplicates)
	if len(audit.duplicates) > 0 {
		t.Errorf("runs started twice: %s", strings.Join(audit.duplicates, "; "))
	}
	if !t.Failed() {
		fig.held(1)
	}
}

// unprivileged is the user sparkcd runs as when the test runs as root:
// nobody.
const unprivileged = 65534

// cacheFault is a git cache directory whose write permission the test
// takes away and gives back. Root writes through any permission, and the
// suite runs as root in CI, so there sparkcd runs as an unprivileged user
// that owns the cache: its writes then fail with EACCES, as a read-only or
// full volume fails them with EROFS or ENOSPC, which need a mount to
// inject. Without root, sparkcd runs as the test's own user. The binary
// and a kubeconfig are put where that user can read them.
type cacheFault struct {
	root, dir, kubeconfig, binary string
}

func newCacheFault(t *testing.T, e *testenv.Env) *cacheFault {
	t.Helper()
	// Not t.TempDir: its parents are private to the test's user.
	root, err := os.MkdirTemp("", "sparkcd-cache-fault-")
	if err != nil {
		t.Fatal(err)
	}
	c := &cacheFault{root: root, dir: filepath.Join(root, "git"),
		kubeconfig: filepath.Join(root, "kubeconfig"), binary: filepath.Join(root, "sparkcd")}
	t.Cleanup(func() {
		c.chmod(t, 0o755, 0o644)
		_ = os.RemoveAll(root)
	})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Chmod(root, 0o755))
	must(os.Mkdir(c.dir, 0o755))
	kc, err := os.ReadFile(e.Kubeconfig)
	must(err)
	must(os.WriteFile(c.kubeconfig, kc, 0o600))
	if err := os.Link(sparkcdBinary(t), c.binary); err != nil {
		must(copyFile(sparkcdBinary(t), c.binary))
	}
	if os.Geteuid() == 0 {
		must(os.Chown(c.dir, unprivileged, unprivileged))
		must(os.Chown(c.kubeconfig, unprivileged, unprivileged))
	}
	return c
}

// configure runs sparkcd from the readable copy, as the unprivileged user
// when the test is root.
func (c *cacheFault) configure(cmd *exec.Cmd) {
	cmd.Path = c.binary
	cmd.Env = append(os.Environ(), "HOME="+c.root)
	if os.Geteuid() == 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: unprivileged, Gid: unprivileged}
	}
}

// lock takes the write permission of every directory and file of the
// cache away; unlock gives it back.
func (c *cacheFault) lock(t *testing.T)   { c.chmod(t, 0o555, 0o444) }
func (c *cacheFault) unlock(t *testing.T) { c.chmod(t, 0o755, 0o644) }

func (c *cacheFault) chmod(t *testing.T, dirMode, fileMode fs.FileMode) {
	t.Helper()
	err := filepath.WalkDir(c.dir, func(path string, d fs.DirEntry, err error) error {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil
		case err != nil:
			return err
		case d.Type()&fs.ModeSymlink != 0:
			// chmod would follow it, maybe out of the cache.
			return nil
		case d.IsDir():
			return ignoreGone(os.Chmod(path, dirMode))
		default:
			return ignoreGone(os.Chmod(path, fileMode))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// ignoreGone is err, or nil when it says the file is gone: sparkcd may
// remove a file while the permissions change.
func ignoreGone(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
