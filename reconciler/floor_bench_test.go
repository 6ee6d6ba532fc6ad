package reconciler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/render/materialize"
	"github.com/sparkcd/sparkcd/runid"
)

// startLikeSparkcd makes, for the SparkJob job, the requests the job loop
// makes to start its run objs, one after the other as the loop does, with
// no informer, work queue or reconcile: the driver created gated and owned
// by the job, its ConfigMap and Service, the gate's removal, the job's
// status recording the run, and the RunStarted event. Made by 32 clients
// at once, it is the floor of sparkcd's design on an API server: what
// those requests cost there, where createBare is the floor of any tool
// that creates a run's three objects.
func startLikeSparkcd(ctx context.Context, c client.Client, cs kubernetes.Interface, job *v1alpha1.SparkJob, objs *materialize.Objects) error {
	pod := objs.Pod
	pod.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(job, v1alpha1.GroupVersion.WithKind("SparkJob"))}
	pod.Spec.SchedulingGates = append(pod.Spec.SchedulingGates, corev1.PodSchedulingGate{Name: v1alpha1.SchedulingGateDependents})
	if err := c.Create(ctx, pod); err != nil {
		return err
	}
	materialize.SetDriverOwner(objs, pod)
	for _, dep := range []client.Object{objs.ConfigMap, objs.Service} {
		if err := c.Create(ctx, dep); err != nil {
			return err
		}
	}
	if err := c.Patch(ctx, pod, reconciler.ReleasePatch); err != nil {
		return err
	}
	now := metav1.Now()
	run := runid.FromPod(pod, &now)
	status, err := json.Marshal(map[string]any{"status": v1alpha1.SparkJobStatus{
		ObservedGeneration: job.Generation,
		Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "RunStarted",
			Message: fmt.Sprintf("run '%s' started", run.Name), LastTransitionTime: now, ObservedGeneration: job.Generation}},
		LastRun:    run,
		ActiveRuns: []string{run.Name},
		History:    []v1alpha1.RunStatus{*run},
	}})
	if err != nil {
		return err
	}
	if err := c.Status().Patch(ctx, job, client.RawPatch(types.MergePatchType, status)); err != nil {
		return err
	}
	_, err = cs.EventsV1().Events(job.Namespace).Create(ctx, &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{GenerateName: job.Name + "-", Namespace: job.Namespace},
		EventTime:           metav1.NewMicroTime(time.Now()),
		ReportingController: "sparkcd.io/sparkcd",
		ReportingInstance:   "bench",
		Action:              "Start",
		Reason:              "RunStarted",
		Regarding:           corev1.ObjectReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: "SparkJob", Namespace: job.Namespace, Name: job.Name, UID: job.UID},
		Note:                fmt.Sprintf("run '%s' started", run.Name),
		Type:                corev1.EventTypeNormal,
	}, metav1.CreateOptions{})
	return err
}

// sparkcdFloor creates n pi SparkJobs in a fresh namespace, untimed, then
// starts each one's run with startLikeSparkcd, 32 at a time, and returns
// how long the starts took.
func sparkcdFloor(b *testing.B, e *testenv.Env, n int) time.Duration {
	b.Helper()
	ns := sparkNamespace(b, e)
	jobs := make([]*v1alpha1.SparkJob, n)
	for i := range jobs {
		jobs[i] = piJob(b, ns, fmt.Sprintf("job-%04d", i))
	}
	parallel(b, n, func(i int) error { return e.Client.Create(context.Background(), jobs[i]) })
	runs := renderedRuns(b, ns, n)
	return timed(func() {
		parallel(b, n, func(i int) error {
			return startLikeSparkcd(context.Background(), e.Client, e.Clientset, jobs[i], runs[i])
		})
	})
}

// reactorFloor measures what BenchmarkSubmissionLatency measures, for n
// SparkJobs created one after the other in a fresh namespace, with a bare
// reactor in sparkcd's place: a watch on the namespace's SparkJobs that,
// on each one's Added event, starts its run with sparkcd's requests
// (startLikeSparkcd: the driver first, rendered beforehand, then the
// rest, which the next job's create meets on the API server as it meets
// sparkcd's). No cache, queue, judgement or render: the floor of a
// controller of sparkcd's design on this API server, its round trips and
// its two watch deliveries.
func reactorFloor(b *testing.B, e *testenv.Env, n int) []time.Duration {
	b.Helper()
	ns := sparkNamespace(b, e)
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("floor-%04d", i)
	}
	runs := map[string]*materialize.Objects{}
	for i, objs := range renderedRunsNamed(b, ns, names) {
		runs[names[i]] = objs
	}
	wc, err := client.NewWithWatch(e.Config, client.Options{Scheme: e.Scheme})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	jobs, err := wc.Watch(ctx, &v1alpha1.SparkJobList{}, client.InNamespace(ns))
	if err != nil {
		b.Fatal(err)
	}
	defer jobs.Stop()
	reactErr := make(chan error, 1)
	go func() {
		for ev := range jobs.ResultChan() {
			job, ok := ev.Object.(*v1alpha1.SparkJob)
			if !ok || ev.Type != watch.Added {
				continue
			}
			if err := startLikeSparkcd(ctx, e.Client, e.Clientset, job, runs[job.Name]); err != nil && ctx.Err() == nil {
				reactErr <- fmt.Errorf("the reactor's start of %s: %w", job.Name, err)
				return
			}
		}
	}()
	pods, err := e.Clientset.CoreV1().Pods(ns).Watch(context.Background(), metav1.ListOptions{
		LabelSelector: v1alpha1.LabelSparkRole + "=" + v1alpha1.RoleDriver,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer pods.Stop()
	latencies := make([]time.Duration, 0, n)
	for _, name := range names {
		start := time.Now()
		if err := e.Client.Create(context.Background(), piJob(b, ns, name)); err != nil {
			b.Fatal(err)
		}
		select {
		case err := <-reactErr:
			b.Fatal(err)
		default:
		}
		waitAdded(b, pods, name)
		latencies = append(latencies, time.Since(start))
	}
	return latencies
}

// startReactor starts, until the test ends, a bare controller on
// namespaces in sparkcd's place: a watch on their SparkJobs and 32
// workers that start each new job's run with startLikeSparkcd, from runs
// rendered beforehand (by namespace/name). Its client has no rate limit,
// so it finds what the API server allows. Errors fail the benchmark.
func startReactor(b *testing.B, e *testenv.Env, namespaces []string, runs map[string]*materialize.Objects) {
	b.Helper()
	cfg := rest.CopyConfig(e.Config)
	cfg.QPS = -1
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: e.Scheme})
	if err != nil {
		b.Fatal(err)
	}
	clientset, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	jobs := make(chan *v1alpha1.SparkJob, len(runs))
	var wg sync.WaitGroup
	b.Cleanup(func() { cancel(); wg.Wait() })
	for _, ns := range namespaces {
		w, err := c.Watch(ctx, &v1alpha1.SparkJobList{}, client.InNamespace(ns))
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			defer w.Stop()
			for ev := range w.ResultChan() {
				if job, ok := ev.Object.(*v1alpha1.SparkJob); ok && ev.Type == watch.Added {
					jobs <- job
				}
			}
		})
	}
	for range benchParallel {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case job := <-jobs:
					if err := startLikeSparkcd(ctx, c, clientset, job, runs[job.Namespace+"/"+job.Name]); err != nil && ctx.Err() == nil {
						b.Errorf("the bare controller's start of %s/%s: %v", job.Namespace, job.Name, err)
						return
					}
				}
			}
		})
	}
}
