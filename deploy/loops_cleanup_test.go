package deploy_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/cronjobs/cleanup"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// cleanupUser is who the cleanup CronJob's pod authenticates as.
const cleanupUser = "system:serviceaccount:sparkcd-system:sparkcd-cleanup"

// addJobLoopAndCleanup is serve's job loop with its in-process cleanup,
// passing every second with no TTL, in the test's namespace only.
func addJobLoopAndCleanup(_ *testing.T, mgr manager.Manager, ns string) error {
	if _, err := reconciler.NewJobReconciler(mgr, reconciler.DefaultJobOptions()); err != nil {
		return err
	}
	opts := cleanup.DefaultOptions()
	opts.Schedule, opts.SucceededTTL, opts.FailedTTL = "@every 1s", 0, 0
	opts.Namespaces = []string{ns}
	_, err := cleanup.NewForManager(mgr, opts)
	return err
}

// exerciseCleanup runs a job to success and waits for the cleanup to
// delete its driver and record the run in the job's history.
func exerciseCleanup(t *testing.T, e *testenv.Env, ns string) {
	exerciseJobLoop(t, e, ns)
	waitCleanedUp(t, e, ns)
}

func waitCleanedUp(t *testing.T, e *testenv.Env, ns string) {
	t.Helper()
	eventually(t, "the cleanup of the finished driver", func() (bool, string) {
		pods := &corev1.PodList{}
		if err := e.Client.List(t.Context(), pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelSparkRole: v1alpha1.RoleDriver}); err != nil {
			return false, err.Error()
		}
		job := &v1alpha1.SparkJob{}
		if err := e.Client.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: "pi"}, job); err != nil {
			return false, err.Error()
		}
		return len(pods.Items) == 0 && len(job.Status.History) > 0,
			fmt.Sprintf("%d driver pods left, %d runs in the history", len(pods.Items), len(job.Status.History))
	})
}

// TestCleanupCronJobUnderDeployedRBAC runs one `sparkcd cleanup --once`
// pass as the cleanup CronJob's service account, on a driver the job loop
// (as sparkcd) ran to success: a verb the pass needs and
// deploy/cleanup-cronjob does not grant fails the test.
func TestCleanupCronJobUnderDeployedRBAC(t *testing.T) {
	e := installed(t)
	apply(t, e, build(t, "cleanup-cronjob"))
	ns := e.Namespace(t)
	apply(t, e, sparkNamespace(t, ns))
	refused := runAsSparkcd(t, e, func(mgr manager.Manager) error {
		_, err := reconciler.NewJobReconciler(mgr, reconciler.DefaultJobOptions())
		return err
	})
	exerciseJobLoop(t, e, ns)

	cfg := rest.CopyConfig(e.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: cleanupUser,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:sparkcd-system", "system:authenticated"},
	}
	rec := &refusals{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &refusalRecorder{next: rt, rec: rec} })
	opts := cleanup.DefaultOptions()
	opts.SucceededTTL, opts.Namespaces = 0, []string{ns}
	c, stop, err := cleanup.NewForConfig(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	// A pass finds the driver once the job loop has recorded the run as
	// ended; until then it keeps it.
	deadline := time.Now().Add(time.Minute)
	for {
		rep, err := c.RunOnce(t.Context())
		if err != nil {
			t.Fatalf("the cleanup pass as %s failed: %v", cleanupUser, err)
		}
		if len(rep.Deleted) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	stop()
	waitCleanedUp(t, e, ns)
	for name, got := range map[string][]string{"the job loop": refused(), "the cleanup pass": rec.list()} {
		if len(got) > 0 {
			t.Errorf("the API server refused %d of %s's requests:\n%s", len(got), name, got)
		}
	}
}
