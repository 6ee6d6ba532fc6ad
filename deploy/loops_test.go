package deploy_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/runid"
)

// sparkcdUser is who sparkcd's pod authenticates as.
const sparkcdUser = "system:serviceaccount:sparkcd-system:sparkcd"

// TestApply server-side applies each kustomization a user applies, as
// `kubectl apply --server-side -k` would: the API server must take every
// object as it is.
func TestApply(t *testing.T) {
	e := installed(t)
	for _, dir := range []string{"examples", "cleanup-cronjob"} {
		t.Run(dir, func(t *testing.T) { apply(t, e, build(t, dir)) })
	}
	// Applying again changes nothing and conflicts with nothing.
	apply(t, e, build(t, "default"))
}

// loopCase is one of sparkcd's loops, run under the install's RBAC.
type loopCase struct {
	name string
	// add adds the loop to the manager; ns is the namespace exercise
	// will use.
	add func(t *testing.T, mgr manager.Manager, ns string) error
	// exercise drives the loop in ns, a namespace that includes the
	// spark-namespace component, and checks that it did its work.
	exercise func(t *testing.T, e *testenv.Env, ns string)
}

// TestLoopsUnderDeployedRBAC runs each loop as sparkcd's service account,
// with leader election on its Lease in sparkcd-system, against the RBAC
// deploy/default installs: a verb the loop needs and the install does not
// grant is a refused request, and fails the test.
func TestLoopsUnderDeployedRBAC(t *testing.T) {
	tests := []loopCase{
		{
			name: "job loop",
			add: func(_ *testing.T, mgr manager.Manager, _ string) error {
				_, err := reconciler.NewJobReconciler(mgr, reconciler.DefaultJobOptions())
				return err
			},
			exercise: exerciseJobLoop,
		},
		{
			// With the job loop: a pruned job's running driver is orphaned.
			name: "source loop",
			add: func(t *testing.T, mgr manager.Manager, _ string) error {
				if _, err := reconciler.NewJobReconciler(mgr, reconciler.DefaultJobOptions()); err != nil {
					return err
				}
				_, err := reconciler.NewSourceReconciler(mgr, reconciler.SourceOptions{CacheDir: t.TempDir()})
				return err
			},
			exercise: exerciseSourceLoop,
		},
		{
			// With the job loop, which judges with the policy loop's store.
			name:     "policy loop",
			add:      addPolicyLoop,
			exercise: exercisePolicyLoop,
		},
		{
			// serve's in-process cleanup, with the job loop.
			name:     "cleanup",
			add:      addJobLoopAndCleanup,
			exercise: exerciseCleanup,
		},
	}
	e := installed(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := e.Namespace(t)
			apply(t, e, sparkNamespace(t, ns))
			refused := runAsSparkcd(t, e, func(mgr manager.Manager) error { return tt.add(t, mgr, ns) })
			tt.exercise(t, e, ns)
			if got := refused(); len(got) > 0 {
				t.Errorf("the API server refused %d of the loop's requests:\n%s", len(got), got)
			}
		})
	}
}

// sparkNamespace builds the spark-namespace component into namespace ns,
// the way a namespace's kustomization includes it: kustomize takes
// components by relative path only, so both go into an in-memory tree.
func sparkNamespace(t *testing.T, ns string) []*unstructured.Unstructured {
	t.Helper()
	return componentInto(t, ns, "components/spark-namespace")
}

// runAsSparkcd starts a manager with add's loop as sparkcd's service
// account, electing a leader as the Deployment does, and waits until it
// leads. It returns the requests the API server refused so far; the loop
// stops when the test ends.
func runAsSparkcd(t *testing.T, e *testenv.Env, add func(manager.Manager) error) func() []string {
	t.Helper()
	return runAs(t, e, asSparkcd(e), add)
}

// runAs is runAsSparkcd with cfg as sparkcd's credentials.
func runAs(t *testing.T, e *testenv.Env, cfg *rest.Config, add func(manager.Manager) error) func() []string {
	t.Helper()
	rec := &refusals{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &refusalRecorder{next: rt, rec: rec} })

	opts := reconciler.DefaultManagerOptions()
	opts.LeaderElection = true
	opts.LeaderElectionNamespace = "sparkcd-system"
	opts.Logger = testLogger(t)
	mgr, err := reconciler.NewManager(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := add(mgr); err != nil {
		t.Fatal(err)
	}
	testenv.StartManager(t, mgr)
	waitCtx, waitCancel := context.WithTimeout(context.Background(), waitTimeout)
	defer waitCancel()
	if !mgr.GetCache().WaitForCacheSync(waitCtx) {
		t.Fatalf("the loop's caches did not sync as %s; refused: %v", sparkcdUser, rec.list())
	}
	select {
	case <-mgr.Elected():
	case <-waitCtx.Done():
		t.Fatalf("the loop was not elected leader; refused: %v", rec.list())
	}
	lease := &coordinationv1.Lease{}
	if err := e.Client.Get(waitCtx, client.ObjectKey{Namespace: "sparkcd-system", Name: opts.LeaderElectionID}, lease); err != nil {
		t.Fatalf("the leader's Lease: %v", err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
		t.Errorf("the Lease '%s' has no holder", lease.Name)
	}
	return rec.list
}

// asSparkcd is a rest.Config of sparkcd's service account, as its pod
// has it.
func asSparkcd(e *testenv.Env) *rest.Config {
	cfg := rest.CopyConfig(e.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: sparkcdUser,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:sparkcd-system", "system:authenticated"},
	}
	return cfg
}

// refusals are the requests answered 401 or 403.
type refusals struct {
	mu   sync.Mutex
	reqs []string
}

func (r *refusals) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

type refusalRecorder struct {
	next http.RoundTripper
	rec  *refusals
}

func (rr *refusalRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rr.next.RoundTrip(req)
	if err == nil && (resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized) {
		rr.rec.mu.Lock()
		rr.rec.reqs = append(rr.rec.reqs, req.Method+" "+req.URL.Path+"?"+req.URL.RawQuery)
		rr.rec.mu.Unlock()
	}
	return resp, err
}

// piJob is a plain Scala job whose driver runs as the component's "spark".
const piJob = `
apiVersion: sparkcd.io/v1alpha1
kind: SparkJob
metadata:
  name: pi
spec:
  type: Scala
  sparkVersion: 3.5.3
  image: apache/spark:3.5.3
  mainClass: org.apache.spark.examples.SparkPi
  mainApplicationFile: local:///opt/spark/examples/jars/spark-examples_2.12-3.5.3.jar
  arguments: ["100"]
  driver: {cores: 1, memory: 1g, serviceAccount: spark}
  executor: {instances: 2, cores: 1, memory: 1g}
`

// podGroup is an empty Volcano PodGroup named name, to get into.
func podGroup(name string) *unstructured.Unstructured {
	pg := &unstructured.Unstructured{}
	pg.SetAPIVersion("scheduling.volcano.sh/v1beta1")
	pg.SetKind("PodGroup")
	pg.SetName(name)
	return pg
}

// exerciseJobLoop creates a SparkJob and follows its run as a kubelet
// would move the driver: the driver pod, its ConfigMap and Service appear,
// and the job's status and events follow the driver to Succeeded.
func exerciseJobLoop(t *testing.T, e *testenv.Env, ns string) {
	ctx := t.Context()
	job := &v1alpha1.SparkJob{}
	if err := yaml.UnmarshalStrict([]byte(piJob), job); err != nil {
		t.Fatal(err)
	}
	job.Namespace = ns
	// The optional dependents too: the UI's own service and Ingress, the
	// PDB, Volcano's PodGroup.
	yes, nodePort, volcano := true, corev1.ServiceTypeNodePort, v1alpha1.VolcanoScheduler
	job.Spec.DriverPodDisruptionBudget = &yes
	job.Spec.BatchScheduler = &volcano
	job.Spec.SparkUIOptions = &v1alpha1.SparkUIConfiguration{ServiceType: &nodePort, IngressURLFormat: "spark.example.com/{{$appName}}"}
	if err := e.Client.Create(ctx, job); err != nil {
		t.Fatal(err)
	}

	driver := waitDriver(t, e, ns, job.Name)
	run, appID := driver.Labels[v1alpha1.LabelRun], driver.Labels[v1alpha1.LabelSparkAppSelector]
	for _, obj := range []client.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: runid.ConfigMapName(run)}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: runid.ServiceName(run, appID)}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: run + "-ui-svc"}},
		&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: runid.IngressName(run)}},
		&policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: driver.Name}},
		podGroup(runid.PodGroupName(run, appID)),
	} {
		eventually(t, fmt.Sprintf("%T '%s'", obj, obj.GetName()), func() (bool, string) {
			err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: obj.GetName()}, obj)
			return err == nil, fmt.Sprint(err)
		})
		if refs := obj.GetOwnerReferences(); len(refs) != 1 || refs[0].UID != driver.UID {
			t.Errorf("%T '%s' ownerReferences = %+v, want the driver pod", obj, obj.GetName(), refs)
		}
	}

	waitLastRun(t, e, ns, job.Name, run, v1alpha1.RunPending, v1alpha1.RunRunning)
	setPodStatus(t, e, &driver, running)
	waitLastRun(t, e, ns, job.Name, run, v1alpha1.RunRunning)
	setPodStatus(t, e, &driver, func(s *corev1.PodStatus) {
		now := metav1.Now()
		s.Phase = corev1.PodSucceeded
		s.ContainerStatuses = []corev1.ContainerStatus{{Name: driver.Spec.Containers[0].Name, Image: driver.Spec.Containers[0].Image,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: now, FinishedAt: now}}}}
	})
	waitLastRun(t, e, ns, job.Name, run, v1alpha1.RunSucceeded)

	eventually(t, "the run's events", func() (bool, string) {
		events, err := e.Clientset.EventsV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		var reasons []string
		for _, ev := range events.Items {
			if ev.Regarding.Name == job.Name {
				reasons = append(reasons, ev.Reason)
			}
		}
		return slices.Contains(reasons, reconciler.EventRunStarted) && slices.Contains(reasons, reconciler.EventRunSucceeded),
			fmt.Sprintf("events about '%s': %v", job.Name, reasons)
	})
}

// waitDriver waits for the one driver pod of job name.
func waitDriver(t *testing.T, e *testenv.Env, ns, name string) corev1.Pod {
	t.Helper()
	var driver corev1.Pod
	eventually(t, "the driver pod of '"+name+"'", func() (bool, string) {
		pods := &corev1.PodList{}
		if err := e.Client.List(t.Context(), pods, client.InNamespace(ns), client.MatchingLabels{
			v1alpha1.LabelJob: name, v1alpha1.LabelSparkRole: v1alpha1.RoleDriver,
		}); err != nil || len(pods.Items) != 1 {
			return false, fmt.Sprintf("%d driver pods, %v; %s", len(pods.Items), err, jobStatus(t, e, ns, name))
		}
		driver = pods.Items[0]
		return true, ""
	})
	return driver
}

// waitLastRun waits until job name's last run is run, in one of phases.
func waitLastRun(t *testing.T, e *testenv.Env, ns, name, run string, phases ...v1alpha1.RunPhase) {
	t.Helper()
	eventually(t, fmt.Sprintf("run '%s' in %v", run, phases), func() (bool, string) {
		job := &v1alpha1.SparkJob{}
		if err := e.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, job); err != nil {
			return false, err.Error()
		}
		last := job.Status.LastRun
		return last != nil && last.Name == run && slices.Contains(phases, last.Phase), jobStatus(t, e, ns, name)
	})
}

// jobStatus describes a job's status for failure messages.
func jobStatus(t *testing.T, e *testenv.Env, ns, name string) string {
	job := &v1alpha1.SparkJob{}
	if err := e.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, job); err != nil {
		return err.Error()
	}
	b, _ := yaml.Marshal(job.Status)
	return "status:\n" + string(b)
}

// running is the status a kubelet writes for a started driver.
func running(s *corev1.PodStatus) {
	now := metav1.Now()
	s.Phase, s.StartTime = corev1.PodRunning, &now
	s.ContainerStatuses = []corev1.ContainerStatus{{Name: "spark-kubernetes-driver", Image: "apache/spark:3.5.3", Ready: true,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}
}

// setPodStatus writes a pod's status as a kubelet would.
func setPodStatus(t *testing.T, e *testenv.Env, pod *corev1.Pod, mutate func(*corev1.PodStatus)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := e.Client.Get(t.Context(), client.ObjectKeyFromObject(pod), pod); err != nil {
			return err
		}
		mutate(&pod.Status)
		return e.Client.Status().Update(t.Context(), pod)
	})
	if err != nil {
		t.Fatalf("update the status of pod '%s/%s': %v", pod.Namespace, pod.Name, err)
	}
}
