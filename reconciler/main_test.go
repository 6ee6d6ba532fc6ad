package reconciler_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// env is the package's control plane, with the garbage collector, and the
// batch schedulers' CRDs (test/schedulers) beside sparkcd's, for the runs'
// PodGroups.
var env = testenv.NewShared(testenv.WithControllerManager(), testenv.WithCRDPaths("../deploy/crds", "../test/schedulers"))

func TestMain(m *testing.M) {
	// The loops log through their manager's logger; controller-runtime's
	// global logger only needs to be set once.
	ctrl.SetLogger(logr.Discard())
	os.Exit(env.Run(m))
}

// waitTimeout bounds every wait for the loop; a loaded two-core machine
// with the race detector needs a few seconds at worst.
const waitTimeout = 60 * time.Second

// loop is a running job loop.
type loop struct {
	// writes counts the loop's write requests (POST, PUT, PATCH, DELETE).
	writes *atomic.Int64
	stop   func()
}

// startLoop starts a manager and the job loop on namespaces, and stops
// them when the test ends (or when stop is called).
func startLoop(t testing.TB, e *testenv.Env, opts reconciler.JobOptions, namespaces ...string) *loop {
	t.Helper()
	mgr, writes := jobLoopManager(t, e, opts, namespaces)
	return &loop{writes: writes, stop: runManager(t, mgr)}
}

// jobLoopManager returns a manager, not yet started, with the job loop on
// namespaces, and the count of its write requests. wrap, when given, sits
// between the loop and the write counter.
func jobLoopManager(t testing.TB, e *testenv.Env, opts reconciler.JobOptions, namespaces []string, wrap ...func(http.RoundTripper) http.RoundTripper) (manager.Manager, *atomic.Int64) {
	t.Helper()
	cfg := rest.CopyConfig(e.Config)
	writes := &atomic.Int64{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &writeCounter{next: rt, n: writes} })
	for _, w := range wrap {
		cfg.Wrap(w)
	}
	mopts := reconciler.DefaultManagerOptions()
	mopts.Namespaces = namespaces
	mopts.Logger = testLogger(t)
	mopts.QPS, mopts.Burst = 1000, 2000
	mgr, err := reconciler.NewManager(cfg, mopts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reconciler.NewJobReconciler(mgr, opts); err != nil {
		t.Fatal(err)
	}
	return mgr, writes
}

// runManager starts mgr and waits for its caches; the function it returns
// stops it, and runs when the test ends.
func runManager(t testing.TB, mgr manager.Manager) func() {
	t.Helper()
	stop := testenv.StartManager(t, mgr)
	syncCtx, syncCancel := context.WithTimeout(context.Background(), waitTimeout)
	defer syncCancel()
	if !mgr.GetCache().WaitForCacheSync(syncCtx) {
		stop()
		t.Fatal("the loops' caches did not sync")
	}
	return stop
}

// testLogger shows the loop's logs in the test output when SPARKCD_TEST_LOG
// is set.
func testLogger(t testing.TB) logr.Logger {
	if os.Getenv("SPARKCD_TEST_LOG") == "" {
		return logr.Discard()
	}
	return testr.NewWithInterface(t, testr.Options{Verbosity: 1})
}

// writeCounter counts the requests that write.
type writeCounter struct {
	next http.RoundTripper
	n    *atomic.Int64
}

func (w *writeCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	switch req.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		w.n.Add(1)
	}
	return w.next.RoundTrip(req)
}

// readJob reads a SparkJob from testdata, into namespace ns.
func readJob(t testing.TB, file, ns string) *v1alpha1.SparkJob {
	t.Helper()
	b, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	job := &v1alpha1.SparkJob{}
	if err := yaml.UnmarshalStrict(b, job); err != nil {
		t.Fatalf("decoding '%s': %v", file, err)
	}
	job.Namespace = ns
	return job
}

// piJob is testdata/pi.yaml named name in ns, changed by mutate.
func piJob(t testing.TB, ns, name string, mutate ...func(*v1alpha1.SparkJob)) *v1alpha1.SparkJob {
	t.Helper()
	job := readJob(t, "pi.yaml", ns)
	job.Name = name
	for _, m := range mutate {
		m(job)
	}
	return job
}

// driverAccess creates the driver's service account in ns, bound to a Role
// that allows what a Spark driver does, as deploy/ sets it up.
func driverAccess(t testing.TB, e *testenv.Env, ns, sa string) {
	t.Helper()
	ctx := context.Background()
	objs := []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa, Namespace: ns}},
		&rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "spark-driver", Namespace: ns},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"pods", "services", "configmaps", "persistentvolumeclaims"}, Verbs: []string{"*"}},
			},
		},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "spark-driver-" + sa, Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "spark-driver"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: ns}},
		},
	}
	for _, obj := range objs {
		if err := e.Client.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("create %T %q: %v", obj, obj.GetName(), err)
		}
	}
}

// sparkNamespace is a test namespace with the driver service account
// "spark" ready.
func sparkNamespace(t testing.TB, e *testenv.Env) string {
	t.Helper()
	ns := e.Namespace(t)
	driverAccess(t, e, ns, "spark")
	return ns
}

// eventually polls cond until it holds, failing the test with cond's last
// description when waitTimeout passes.
func eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	testenv.Eventually(t, waitTimeout, what, cond)
}

// getJob reads a SparkJob from the API server.
func getJob(t testing.TB, e *testenv.Env, ns, name string) *v1alpha1.SparkJob {
	t.Helper()
	job := &v1alpha1.SparkJob{}
	if err := e.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, job); err != nil {
		t.Fatalf("get SparkJob '%s/%s': %v", ns, name, err)
	}
	return job
}

// waitJob waits until the job's status satisfies cond and returns it.
func waitJob(t testing.TB, e *testenv.Env, ns, name, what string, cond func(*v1alpha1.SparkJob) bool) *v1alpha1.SparkJob {
	t.Helper()
	var job *v1alpha1.SparkJob
	eventually(t, what, func() (bool, string) {
		job = getJob(t, e, ns, name)
		return cond(job), statusSummary(job)
	})
	return job
}

// statusSummary describes a job's status for failure messages.
func statusSummary(job *v1alpha1.SparkJob) string {
	b, _ := yaml.Marshal(job.Status)
	return "status:\n" + string(b)
}

// lastRunIn waits for a last run in one of the phases and returns it.
func lastRunIn(t testing.TB, e *testenv.Env, ns, name string, phases ...v1alpha1.RunPhase) v1alpha1.RunStatus {
	t.Helper()
	job := waitJob(t, e, ns, name, "a last run in "+phaseList(phases), func(j *v1alpha1.SparkJob) bool {
		if j.Status.LastRun == nil {
			return false
		}
		for _, p := range phases {
			if j.Status.LastRun.Phase == p {
				return true
			}
		}
		return false
	})
	return *job.Status.LastRun
}

func phaseList(phases []v1alpha1.RunPhase) string {
	s := make([]string, len(phases))
	for i, p := range phases {
		s[i] = string(p)
	}
	return strings.Join(s, "|")
}

// drivers lists the driver pods of a job.
func drivers(t testing.TB, e *testenv.Env, ns, job string) []corev1.Pod {
	t.Helper()
	pods := &corev1.PodList{}
	if err := e.Client.List(context.Background(), pods, client.InNamespace(ns),
		client.MatchingLabels{v1alpha1.LabelJob: job, v1alpha1.LabelSparkRole: v1alpha1.RoleDriver}); err != nil {
		t.Fatal(err)
	}
	return pods.Items
}

// setPodStatus changes a pod's status as a kubelet would, through the
// status subresource.
func setPodStatus(t testing.TB, e *testenv.Env, ns, name string, mutate func(*corev1.PodStatus)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod := &corev1.Pod{}
		if err := e.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, pod); err != nil {
			return err
		}
		mutate(&pod.Status)
		return e.Client.Status().Update(context.Background(), pod)
	})
	if err != nil {
		t.Fatalf("update the status of pod '%s/%s': %v", ns, name, err)
	}
}

// The pod statuses a kubelet writes for a driver.
func running(s *corev1.PodStatus) {
	now := metav1.Now()
	s.Phase = corev1.PodRunning
	s.StartTime = &now
	s.ContainerStatuses = []corev1.ContainerStatus{{
		Name: "spark-kubernetes-driver", Image: "apache/spark:3.5.3", Ready: true,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
	}}
}

func terminated(phase corev1.PodPhase, reason string, code int32) func(*corev1.PodStatus) {
	return func(s *corev1.PodStatus) {
		now := metav1.Now()
		s.Phase = phase
		s.ContainerStatuses = []corev1.ContainerStatus{{
			Name: "spark-kubernetes-driver", Image: "apache/spark:3.5.3",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: code, Reason: reason, StartedAt: now, FinishedAt: now,
			}},
		}}
	}
}

func succeeded(s *corev1.PodStatus) { terminated(corev1.PodSucceeded, "Completed", 0)(s) }
