package reconciler_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/render/materialize"
	"github.com/sparkcd/sparkcd/runid"
)

// TestRunObjects: a new SparkJob yields exactly one driver pod, the one
// render makes of the same job, and its ConfigMap, Service and optional
// dependents (Ingress, the UI's service, driverIngressOptions, the PDB),
// owned by the pod; deleting the driver makes the garbage collector delete
// them, and the run fails for it.
func TestRunObjects(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	for _, file := range []string{"pi.yaml", "ui.yaml", "exposed.yaml", "volcano.yaml", "coscheduling.yaml"} {
		t.Run(file, func(t *testing.T) {
			ns := sparkNamespace(t, e)
			startLoop(t, e, reconciler.JobOptions{}, ns)
			ctx := context.Background()
			job := readJob(t, file, ns)
			if err := e.Client.Create(ctx, job); err != nil {
				t.Fatal(err)
			}
			run := lastRunIn(t, e, ns, job.Name, v1alpha1.RunPending)

			pods := drivers(t, e, ns, job.Name)
			if len(pods) != 1 {
				t.Fatalf("%d driver pods, want 1", len(pods))
			}
			pod := pods[0]
			// The job as the loop read it, with the same run identity.
			job = getJob(t, e, ns, job.Name)
			want := runid.OfflineRun(job, "")
			if run.Name != want.Name || run.AppID != want.AppID || run.SpecHash != want.SpecHash || run.Trigger != v1alpha1.TriggerCommit {
				t.Errorf("run = %+v, want the identity %+v", run, want)
			}
			objs, err := materialize.Materialize(job, want, materialize.DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			assertPodMatches(t, e, objs.Pod, &pod)
			if ref := metav1.GetControllerOf(&pod); ref != nil {
				t.Errorf("driver pod has a controller %+v; want only a plain ownerReference to the SparkJob", ref)
			}
			if len(pod.OwnerReferences) != 1 || pod.OwnerReferences[0].UID != job.UID || pod.OwnerReferences[0].Kind != "SparkJob" {
				t.Errorf("driver ownerReferences = %+v, want one to SparkJob %s", pod.OwnerReferences, job.UID)
			}

			deps, keys := dependentsOf(objs)
			checkDependentCount(t, file, deps)
			for i, dep := range deps {
				if err := e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: keys[i]}, dep); err != nil {
					t.Fatalf("get %T %q: %v", dep, keys[i], err)
				}
				ref := metav1.GetControllerOf(dep)
				if ref == nil || ref.UID != pod.UID || ref.Kind != "Pod" {
					t.Errorf("%T %q controller = %+v, want the driver pod %s", dep, keys[i], ref, pod.UID)
				}
			}
			checkPodGroupFirst(t, deps)
			cm := deps[0].(*corev1.ConfigMap)
			if diff := cmp.Diff(objs.ConfigMap.Data, cm.Data); diff != "" {
				t.Errorf("ConfigMap data (-want +got):\n%s", diff)
			}
			svc := deps[1].(*corev1.Service)
			if diff := cmp.Diff(objs.Service.Spec.Ports, svc.Spec.Ports); diff != "" || svc.Spec.ClusterIP != corev1.ClusterIPNone {
				t.Errorf("Service ports (-want +got):\n%s; clusterIP %q", diff, svc.Spec.ClusterIP)
			}

			if err := e.Client.Delete(ctx, &pod); err != nil {
				t.Fatal(err)
			}
			for i, dep := range deps {
				eventually(t, fmt.Sprintf("the garbage collector to delete %q", keys[i]), func() (bool, string) {
					err := e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: keys[i]}, dep)
					return apierrors.IsNotFound(err), fmt.Sprintf("get: %v", err)
				})
			}
			ended := lastRunIn(t, e, ns, job.Name, v1alpha1.RunFailed)
			if ended.Reason != runid.ReasonDriverPodDeleted || ended.CompletionTime == nil {
				t.Errorf("last run after its driver was deleted = %+v, want Failed %s with a completion time", ended, runid.ReasonDriverPodDeleted)
			}
			if n := len(drivers(t, e, ns, job.Name)); n != 0 {
				t.Errorf("%d driver pods after the delete: a deleted driver must not start a new run", n)
			}
		})
	}
}

// checkDependentCount checks the dependents of the runs of the files
// with more than a ConfigMap and a Service.
func checkDependentCount(t *testing.T, file string, deps []client.Object) {
	t.Helper()
	switch file {
	case "exposed.yaml":
		if len(deps) != 7 {
			t.Errorf("%d dependents, want 7: ConfigMap, Service, UI service, UI Ingress, driver service and Ingress, PDB", len(deps))
		}
	case "volcano.yaml", "coscheduling.yaml":
		if len(deps) != 3 || deps[2].GetObjectKind().GroupVersionKind().Kind != "PodGroup" {
			t.Errorf("%d dependents, want 3: ConfigMap, Service, PodGroup", len(deps))
		}
	}
}

// checkPodGroupFirst checks that a run's PodGroup was written before its
// ConfigMap (createDependents), by the etcd revisions the API server gives
// as resourceVersions: a driver whose ConfigMap exists has its group.
func checkPodGroupFirst(t *testing.T, deps []client.Object) {
	t.Helper()
	if len(deps) < 3 || deps[len(deps)-1].GetObjectKind().GroupVersionKind().Kind != "PodGroup" {
		return
	}
	pg, err1 := strconv.ParseInt(deps[len(deps)-1].GetResourceVersion(), 10, 64)
	cm, err2 := strconv.ParseInt(deps[0].GetResourceVersion(), 10, 64)
	if err1 != nil || err2 != nil || pg >= cm {
		t.Errorf("PodGroup written at revision %d, ConfigMap at %d: want the PodGroup first (%v, %v)", pg, cm, err1, err2)
	}
}

// dependentsOf returns empty objects of the kinds of a run's dependents,
// to get them into, and their names.
func dependentsOf(objs *materialize.Objects) ([]client.Object, []string) {
	var deps []client.Object
	var keys []string
	for _, d := range objs.Dependents() {
		deps = append(deps, d.DeepCopyObject().(client.Object))
		keys = append(keys, d.GetName())
	}
	return deps, keys
}

// assertPodMatches compares the pod the loop created with the rendered
// one, both as the API server stores them: the rendered pod goes through a
// server-side dry run, so defaulting applies to both alike.
func assertPodMatches(t *testing.T, e *testenv.Env, rendered, got *corev1.Pod) {
	t.Helper()
	dry := rendered.DeepCopy()
	dry.Name += "-dry-run"
	dry.OwnerReferences = got.OwnerReferences
	if err := e.Client.Create(context.Background(), dry, client.DryRunAll); err != nil {
		t.Fatalf("dry-run create of the rendered pod: %v", err)
	}
	if diff := cmp.Diff(dry.Spec, got.Spec); diff != "" {
		t.Errorf("driver pod spec differs from render (-render +cluster):\n%s", diff)
	}
	if diff := cmp.Diff(rendered.Labels, got.Labels); diff != "" {
		t.Errorf("driver pod labels (-render +cluster):\n%s", diff)
	}
	if diff := cmp.Diff(rendered.Annotations, got.Annotations); diff != "" {
		t.Errorf("driver pod annotations (-render +cluster):\n%s", diff)
	}
}

// TestInterruptedRun: a loop killed after creating a driver and before
// creating its dependents leaves only the pod; the next loop completes the
// run, with one driver and all its dependents.
func TestInterruptedRun(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	ctx := context.Background()
	job := piJob(t, ns, "interrupted")
	if err := e.Client.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	// What the killed loop did: the driver pod of the job's first run.
	run := runid.OfflineRun(job, "")
	objs, err := materialize.Materialize(job, run, materialize.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	objs.Pod.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: v1alpha1.GroupVersion.String(), Kind: v1alpha1.SparkJobKind, Name: job.Name, UID: job.UID,
	}}
	if err := e.Client.Create(ctx, objs.Pod); err != nil {
		t.Fatal(err)
	}

	startLoop(t, e, reconciler.JobOptions{}, ns)
	got := lastRunIn(t, e, ns, job.Name, v1alpha1.RunPending)
	if got.Name != run.Name {
		t.Errorf("last run %q, want the interrupted run %q", got.Name, run.Name)
	}
	if pods := drivers(t, e, ns, job.Name); len(pods) != 1 || pods[0].UID != objs.Pod.UID {
		t.Fatalf("driver pods = %d, want only the interrupted run's", len(pods))
	}
	for _, dep := range []client.Object{
		&corev1.ConfigMap{ObjectMeta: objs.ConfigMap.ObjectMeta},
		&corev1.Service{ObjectMeta: objs.Service.ObjectMeta},
	} {
		if err := e.Client.Get(ctx, client.ObjectKeyFromObject(dep), dep); err != nil {
			t.Fatalf("the interrupted run's %T was not created: %v", dep, err)
		}
		if ref := metav1.GetControllerOf(dep); ref == nil || ref.UID != objs.Pod.UID {
			t.Errorf("%T controller = %+v, want the driver pod", dep, ref)
		}
	}
}

// TestInterruptedRunSpecChanged: when the spec changed while the loop was
// down, the interrupted driver cannot be completed; it is deleted, its run
// fails, and the new spec runs.
func TestInterruptedRunSpecChanged(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	ctx := context.Background()
	job := piJob(t, ns, "changed")
	run := runid.OfflineRun(job, "")
	objs, err := materialize.Materialize(job, run, materialize.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	job.Spec.Arguments = []string{"200"}
	if err := e.Client.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	objs.Pod.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: v1alpha1.GroupVersion.String(), Kind: v1alpha1.SparkJobKind, Name: job.Name, UID: job.UID,
	}}
	if err := e.Client.Create(ctx, objs.Pod); err != nil {
		t.Fatal(err)
	}

	startLoop(t, e, reconciler.JobOptions{}, ns)
	newRun := runid.OfflineRun(job, "")
	got := waitJob(t, e, ns, job.Name, "the new spec's run", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun != nil && j.Status.LastRun.Name == newRun.Name
	})
	if len(got.Status.History) != 1 || got.Status.History[0].Name != run.Name || got.Status.History[0].Reason != runid.ReasonInterrupted {
		t.Errorf("history = %+v, want the interrupted run failed with %s", got.Status.History, runid.ReasonInterrupted)
	}
	eventually(t, "only the new run's driver", func() (bool, string) {
		pods := drivers(t, e, ns, job.Name)
		return len(pods) == 1 && pods[0].Name == runid.DriverPodName(newRun.Name), fmt.Sprintf("%d drivers", len(pods))
	})
}

// TestManyJobs: 100 SparkJobs in 10 namespaces, created at once, all reach
// a started run, each with exactly one driver.
func TestManyJobs(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	const namespaces, perNamespace = 10, 10
	var nss []string
	for range namespaces {
		nss = append(nss, sparkNamespace(t, e))
	}
	startLoop(t, e, reconciler.JobOptions{}, nss...)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, namespaces*perNamespace)
	for _, ns := range nss {
		for i := range perNamespace {
			wg.Go(func() {
				if err := e.Client.Create(ctx, piJob(t, ns, fmt.Sprintf("job-%02d", i))); err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, ns := range nss {
		eventually(t, "every job of "+ns+" to have a started run", func() (bool, string) {
			jobs := &v1alpha1.SparkJobList{}
			if err := e.Client.List(ctx, jobs, client.InNamespace(ns)); err != nil {
				return false, err.Error()
			}
			started := 0
			for _, j := range jobs.Items {
				if j.Status.LastRun != nil && j.Status.LastRun.StartTime != nil {
					started++
				}
			}
			return started == perNamespace, fmt.Sprintf("%d of %d started", started, perNamespace)
		})
		pods := &corev1.PodList{}
		if err := e.Client.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelSparkRole: v1alpha1.RoleDriver}); err != nil {
			t.Fatal(err)
		}
		perJob := map[string]int{}
		for _, p := range pods.Items {
			perJob[p.Labels[v1alpha1.LabelJob]]++
		}
		for i := range perNamespace {
			if n := perJob[fmt.Sprintf("job-%02d", i)]; n != 1 {
				t.Errorf("%s/job-%02d has %d drivers, want 1", ns, i, n)
			}
		}
		if len(pods.Items) != perNamespace {
			t.Errorf("%s has %d drivers, want %d", ns, len(pods.Items), perNamespace)
		}
	}
}
