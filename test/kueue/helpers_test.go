package kueue_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	kueue "sigs.k8s.io/kueue/apis/kueue/v1beta2"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/runid"
)

// env is the package's control plane: the garbage collector, Kueue, and
// kube-scheduler with KWOK, whose stages start pods and never end them.
var env = testenv.NewShared(testenv.WithControllerManager(), testenv.WithKueue(), testenv.WithKWOK(stagesPath()))

func stagesPath() string {
	p, err := filepath.Abs(filepath.Join("testdata", "stages.yaml"))
	if err != nil {
		return filepath.Join("testdata", "stages.yaml")
	}
	return p
}

func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	os.Exit(env.Run(m))
}

// waitTimeout bounds every wait; Kueue admits within a second, a loaded
// two-core machine with the race detector needs a few more.
const waitTimeout = 90 * time.Second

func eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	testenv.Eventually(t, waitTimeout, what, cond)
}

// startLoop runs sparkcd's job loop on ns until the test ends.
func startLoop(t testing.TB, e *testenv.Env, ns string) {
	t.Helper()
	startLoopWith(t, e, ns, reconciler.JobOptions{})
}

// startLoopWith runs the job loop on ns with opts until the test ends.
func startLoopWith(t testing.TB, e *testenv.Env, ns string, opts reconciler.JobOptions) {
	t.Helper()
	mopts := reconciler.DefaultManagerOptions()
	mopts.QPS, mopts.Burst = 1000, 2000
	startLoopManager(t, e, ns, mopts, opts)
}

// startLoopManager runs sparkcd's job loop on ns with mopts and opts
// until the test ends.
func startLoopManager(t testing.TB, e *testenv.Env, ns string, mopts reconciler.ManagerOptions, opts reconciler.JobOptions) {
	t.Helper()
	mopts.Namespaces = []string{ns}
	mgr, err := reconciler.NewManager(e.Config, mopts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reconciler.NewJobReconciler(mgr, opts); err != nil {
		t.Fatal(err)
	}
	testenv.StartManager(t, mgr)
}

// create creates objs, failing the test on any error.
func create(t testing.TB, e *testenv.Env, objs ...client.Object) {
	t.Helper()
	for _, obj := range objs {
		if err := e.Client.Create(context.Background(), obj); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("create %T %q: %v", obj, obj.GetName(), err)
		}
	}
}

// driverAccess creates the drivers' service account "spark" in ns with
// what a Spark driver may do, as deploy/ sets it up.
func driverAccess(t testing.TB, e *testenv.Env, ns string) {
	t.Helper()
	create(t, e,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "spark", Namespace: ns}},
		&rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "spark-driver", Namespace: ns},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods", "services", "configmaps", "persistentvolumeclaims"}, Verbs: []string{"*"}}},
		},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "spark-driver", Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "spark-driver"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "spark", Namespace: ns}},
		})
}

// kwokNode creates a fake node of fixed capacity that KWOK keeps Ready.
func kwokNode(t testing.TB, e *testenv.Env, name, cpu, memory string) {
	t.Helper()
	capacity := corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory), corev1.ResourcePods: resource.MustParse("110"),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels:      map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok"},
		},
	}
	create(t, e, node)
	// A merge patch: KWOK may be writing the node's conditions meanwhile,
	// and keeps the capacity it finds.
	patch := client.MergeFrom(node.DeepCopy())
	node.Status.Capacity, node.Status.Allocatable = capacity, capacity
	if err := e.Client.Status().Patch(context.Background(), node, patch); err != nil {
		t.Fatalf("set the capacity of node '%s': %v", name, err)
	}
}

// kueueQueues creates a ResourceFlavor, a ClusterQueue for ns with quota,
// and the LocalQueue "team" in ns pointing at it.
// kueueNamespace makes a namespace for a test of Kueue: the driver's
// service account and access, a 16-cpu KWOK node of its own, and Kueue
// queues with quotaCPU cpu (and 64Gi) for its runs.
func kueueNamespace(t testing.TB, e *testenv.Env, quotaCPU string) string {
	t.Helper()
	ns := e.Namespace(t)
	driverAccess(t, e, ns)
	kwokNode(t, e, "kwok-"+ns, "16", "64Gi")
	kueueQueues(t, e, ns, corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(quotaCPU), corev1.ResourceMemory: resource.MustParse("64Gi")})
	return ns
}

func kueueQueues(t testing.TB, e *testenv.Env, ns string, quota corev1.ResourceList) {
	t.Helper()
	flavor := &kueue.ResourceFlavor{ObjectMeta: metav1.ObjectMeta{Name: "default-" + ns}}
	var quotas []kueue.ResourceQuota
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		quotas = append(quotas, kueue.ResourceQuota{Name: name, NominalQuota: quota[name]})
	}
	cq := &kueue.ClusterQueue{
		ObjectMeta: metav1.ObjectMeta{Name: "spark-" + ns},
		Spec: kueue.ClusterQueueSpec{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
			ResourceGroups: []kueue.ResourceGroup{{
				CoveredResources: []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory},
				Flavors:          []kueue.FlavorQuotas{{Name: kueue.ResourceFlavorReference(flavor.Name), Resources: quotas}},
			}},
		},
	}
	lq := &kueue.LocalQueue{
		ObjectMeta: metav1.ObjectMeta{Name: "team", Namespace: ns},
		Spec:       kueue.LocalQueueSpec{ClusterQueue: kueue.ClusterQueueReference(cq.Name)},
	}
	create(t, e, flavor, cq, lq)
	t.Cleanup(func() {
		for _, obj := range []client.Object{lq, cq, flavor} {
			_ = e.Client.Delete(context.Background(), obj)
		}
	})
}

// piJob is testdata/pi-kueue.yaml named name in ns.
func piJob(t testing.TB, ns, name string) *v1alpha1.SparkJob {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "pi-kueue.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	job := &v1alpha1.SparkJob{}
	if err := yaml.UnmarshalStrict(b, job); err != nil {
		t.Fatal(err)
	}
	job.Name, job.Namespace = name, ns
	return job
}

// getJob reads a SparkJob.
func getJob(t testing.TB, e *testenv.Env, ns, name string) *v1alpha1.SparkJob {
	t.Helper()
	job := &v1alpha1.SparkJob{}
	if err := e.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, job); err != nil {
		t.Fatalf("get SparkJob '%s/%s': %v", ns, name, err)
	}
	return job
}

// driverOf returns the driver pod of a job's only run, nil before it
// exists.
func driverOf(t testing.TB, e *testenv.Env, ns, job string) *corev1.Pod {
	t.Helper()
	pods := &corev1.PodList{}
	if err := e.Client.List(context.Background(), pods, client.InNamespace(ns),
		client.MatchingLabels{v1alpha1.LabelJob: job, v1alpha1.LabelSparkRole: v1alpha1.RoleDriver}); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) == 0 {
		return nil
	}
	return &pods.Items[0]
}

// startExecutors creates n executor pods for a running driver, as Spark's
// ExecutorPodsAllocator makes them: owned by the driver, labelled with
// its app id, asking for spark.executor.cores and memory + overhead
// (1 cpu, 1024Mi + 384Mi).
func startExecutors(t testing.TB, e *testenv.Env, driver *corev1.Pod, n int) {
	t.Helper()
	res := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1408Mi")}
	for i := 1; i <= n; i++ {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name:      fmt.Sprintf("%s-exec-%d", runid.NameOf(driver), i),
				Namespace: driver.Namespace,
				Labels: map[string]string{
					v1alpha1.LabelSparkRole: v1alpha1.RoleExecutor, v1alpha1.LabelSparkAppSelector: driver.Labels[v1alpha1.LabelSparkAppSelector],
					v1alpha1.LabelJob: driver.Labels[v1alpha1.LabelJob], "spark-exec-id": fmt.Sprint(i),
				},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: driver.Name, UID: driver.UID, Controller: ptr.To(true)}},
			},
			Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{
					Name: "spark-kubernetes-executor", Image: "apache/spark:3.5.3",
					Resources: corev1.ResourceRequirements{Requests: res, Limits: corev1.ResourceList{corev1.ResourceMemory: res[corev1.ResourceMemory]}},
				}},
			},
		}
		create(t, e, pod)
	}
}

// succeed ends a driver as a kubelet reports a successful one; Spark has
// deleted its executors by then.
func succeed(t testing.TB, e *testenv.Env, driver *corev1.Pod) {
	t.Helper()
	if err := endDriver(context.Background(), e, driver); err != nil {
		t.Fatal(err)
	}
}

// endDriver is succeed's work, for goroutines other than the test's.
func endDriver(ctx context.Context, e *testenv.Env, driver *corev1.Pod) error {
	if err := e.Client.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(driver.Namespace),
		client.MatchingLabels{v1alpha1.LabelSparkAppSelector: driver.Labels[v1alpha1.LabelSparkAppSelector], v1alpha1.LabelSparkRole: v1alpha1.RoleExecutor}); err != nil {
		return fmt.Errorf("delete the executors of '%s': %w", driver.Name, err)
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod := &corev1.Pod{}
		if err := e.Client.Get(ctx, client.ObjectKeyFromObject(driver), pod); err != nil {
			return err
		}
		now := metav1.Now()
		pod.Status.Phase = corev1.PodSucceeded
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{
			Name: runid.DriverContainerName, Image: "apache/spark:3.5.3",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed", StartedAt: now, FinishedAt: now}},
		}}
		return e.Client.Status().Update(ctx, pod)
	})
	if err != nil {
		return fmt.Errorf("end driver '%s': %w", driver.Name, err)
	}
	return nil
}

// usage samples, until stopped, the cpu the namespace's pods hold on
// nodes — bound and not ended — and keeps the most it saw.
type usage struct {
	mu      sync.Mutex
	peak    int64
	samples int
	stop    func()
}

func sampleUsage(t testing.TB, e *testenv.Env, ns string) *usage {
	u := &usage{}
	u.stop = sampleUntilStopped(t, func(ctx context.Context) {
		pods := &corev1.PodList{}
		if err := e.Client.List(ctx, pods, client.InNamespace(ns)); err != nil {
			return
		}
		milli := boundMilliCPU(pods.Items)
		u.mu.Lock()
		u.peak, u.samples = max(u.peak, milli), u.samples+1
		u.mu.Unlock()
	})
	return u
}

// sampleUntilStopped calls sample every 20 ms in a goroutine of its own
// until the function it returns is called, which waits for the last
// sample; the test's end calls it too.
func sampleUntilStopped(t testing.TB, sample func(ctx context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	stop = func() { cancel(); <-done }
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			sample(ctx)
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(stop)
	return stop
}
