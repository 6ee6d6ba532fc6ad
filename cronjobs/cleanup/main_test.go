package cleanup_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/runid"
)

// env is the package's control plane, with the garbage collector: the
// cleanup relies on it to remove what each deleted driver owns.
var env = testenv.NewShared(testenv.WithControllerManager())

func TestMain(m *testing.M) { os.Exit(env.Run(m)) }

// waitTimeout bounds every wait for the garbage collector.
const waitTimeout = 90 * time.Second

// sparkJob is a minimal valid SparkJob.
func sparkJob(ns, name string, mutate ...func(*v1alpha1.SparkJob)) *v1alpha1.SparkJob {
	job := &v1alpha1.SparkJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.SparkJobSpec{
			Type:                v1alpha1.ScalaApplication,
			Image:               ptr.To("apache/spark:3.5.3"),
			MainClass:           ptr.To("org.apache.spark.examples.SparkPi"),
			MainApplicationFile: ptr.To("local:///opt/spark/examples/jars/spark-examples_2.12-3.5.3.jar"),
		},
	}
	for _, m := range mutate {
		m(job)
	}
	return job
}

// driverSpec describes one driver pod a test creates.
type driverSpec struct {
	namespace, name string
	// job owns the driver when set; managed labels it as sparkcd does.
	job     *v1alpha1.SparkJob
	managed bool
	labels  map[string]string
	phase   corev1.PodPhase
	// age is how long ago a finished driver ended.
	age time.Duration
	// dependents are created owned by the driver: a ConfigMap and, for
	// managed drivers, a headless Service.
	dependents bool
}

// createDriver creates a driver pod and its dependents, and moves its
// phase as a kubelet would. It returns the pod.
func createDriver(ctx context.Context, c client.Client, d driverSpec, now time.Time) (*corev1.Pod, error) {
	run := d.name + "-run"
	l := map[string]string{v1alpha1.LabelSparkRole: v1alpha1.RoleDriver}
	if d.managed {
		l[v1alpha1.LabelManagedBy] = v1alpha1.ManagedByValue
		l[v1alpha1.LabelRun] = run
		if d.job != nil {
			l[v1alpha1.LabelJob] = d.job.Name
		}
	}
	for k, v := range d.labels {
		l[k] = v
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: d.namespace, Name: d.name, Labels: l,
			Annotations: map[string]string{v1alpha1.AnnotationTrigger: string(v1alpha1.TriggerSchedule)}},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "spark-kubernetes-driver", Image: "apache/spark:3.5.3"}},
		},
	}
	if d.job != nil {
		pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: v1alpha1.SparkJobKind, Name: d.job.Name, UID: d.job.UID}}
	}
	if err := c.Create(ctx, pod); err != nil {
		return nil, fmt.Errorf("create pod '%s/%s': %w", d.namespace, d.name, err)
	}
	if d.dependents {
		owner := metav1.OwnerReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID, Controller: ptr.To(true)}
		deps := []client.Object{&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: d.namespace, Name: run + "-conf", OwnerReferences: []metav1.OwnerReference{owner}},
			Data:       map[string]string{"spark.properties": "spark.app.name=" + run},
		}}
		if d.managed {
			deps = append(deps, &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Namespace: d.namespace, Name: run + "-svc", OwnerReferences: []metav1.OwnerReference{owner}},
				Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{v1alpha1.LabelRun: run},
					Ports: []corev1.ServicePort{{Name: "driver-rpc-port", Port: 7078}}},
			})
		}
		for _, obj := range deps {
			if err := c.Create(ctx, obj); err != nil {
				return nil, fmt.Errorf("create %s of '%s': %w", obj.GetName(), d.name, err)
			}
		}
	}
	if d.phase == corev1.PodPending {
		return pod, nil
	}
	started := metav1.NewTime(now.Add(-d.age - time.Hour))
	pod.Status.Phase = d.phase
	pod.Status.StartTime = &started
	switch d.phase {
	case corev1.PodRunning:
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "spark-kubernetes-driver", Image: "apache/spark:3.5.3", Ready: true,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}}}
	default:
		code := int32(0)
		if d.phase == corev1.PodFailed {
			code = 1
		}
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "spark-kubernetes-driver", Image: "apache/spark:3.5.3",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, StartedAt: started, FinishedAt: metav1.NewTime(now.Add(-d.age))}}}}
	}
	if err := c.Status().Update(ctx, pod); err != nil {
		return nil, fmt.Errorf("update the status of pod '%s/%s': %w", d.namespace, d.name, err)
	}
	return pod, nil
}

// createDrivers creates the drivers concurrently.
func createDrivers(ctx context.Context, c client.Client, drivers []driverSpec, now time.Time, concurrency int) (map[string]*corev1.Pod, error) {
	var mu sync.Mutex
	pods := make(map[string]*corev1.Pod, len(drivers))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for _, d := range drivers {
		g.Go(func() error {
			pod, err := createDriver(gctx, c, d, now)
			if err != nil {
				return err
			}
			mu.Lock()
			pods[d.namespace+"/"+d.name] = pod
			mu.Unlock()
			return nil
		})
	}
	return pods, g.Wait()
}

// eventually polls cond until it holds, failing with its last description
// after waitTimeout.
func eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	testenv.Eventually(t, waitTimeout, what, cond)
}

// setActiveRuns writes a job's status.activeRuns, as the job loop would.
func setActiveRuns(t testing.TB, c client.Client, job *v1alpha1.SparkJob, runs ...string) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		got := &v1alpha1.SparkJob{}
		if err := c.Get(context.Background(), types.NamespacedName{Namespace: job.Namespace, Name: job.Name}, got); err != nil {
			return err
		}
		got.Status.ActiveRuns = runs
		return c.Status().Update(context.Background(), got)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// recordHistory puts the runs of the given driver pods in their job's
// status.history, newest first, as the job loop does when it sees them end:
// the cleanup deletes only the drivers of recorded runs.
func recordHistory(t testing.TB, c client.Client, job *v1alpha1.SparkJob, pods ...*corev1.Pod) {
	t.Helper()
	var runs []v1alpha1.RunStatus
	for _, pod := range pods {
		phase := v1alpha1.RunSucceeded
		if pod.Status.Phase == corev1.PodFailed {
			phase = v1alpha1.RunFailed
		}
		runs = append(runs, v1alpha1.RunStatus{Name: pod.Labels[v1alpha1.LabelRun], Phase: phase, StartTime: pod.CreationTimestamp.DeepCopy()})
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		got := &v1alpha1.SparkJob{}
		if err := c.Get(context.Background(), types.NamespacedName{Namespace: job.Namespace, Name: job.Name}, got); err != nil {
			return err
		}
		got.Status.History = append(got.Status.History, runs...)
		sort.SliceStable(got.Status.History, func(i, j int) bool { return runid.Newer(&got.Status.History[i], &got.Status.History[j]) })
		return c.Status().Update(context.Background(), got)
	})
	if err != nil {
		t.Fatal(err)
	}
}
