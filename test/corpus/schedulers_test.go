package corpus

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/render/materialize"
	"github.com/sparkcd/sparkcd/runid"
)

// schedulerExample is one of the Spark Operator's batch-scheduler examples
// and what its run must look like, from the Operator's integration code
// (internal/scheduler/{volcano,yunikorn,kubescheduler} at 38082f3): each
// example runs a Scala driver and 2 executors of 1 core and 512m, so a pod
// asks for 1 cpu and 512Mi + 384Mi overhead = 896Mi.
type schedulerExample struct {
	file          string
	schedulerName string
	// podGroup is the PodGroup's apiVersion and spec; "" for none.
	podGroupAPI  string
	podGroupSpec map[string]any
	// The annotations and labels the pods must carry; "{pg}" is the pod
	// group's name, "{app}" the run's spark.app.id.
	driverAnnotations, executorAnnotations map[string]string
	driverLabels, executorLabels           map[string]string
}

var schedulerExamples = []schedulerExample{
	{
		// volcano: syncPodGroupInClusterMode — minMember 1, minResources
		// driver + executors, group-name annotation on both; the webhook
		// sets schedulerName to the batch scheduler's name.
		file: "kubeflow-spark-operator_v2.5.2_examples_spark-pi-volcano.yaml", schedulerName: "volcano",
		podGroupAPI:         "scheduling.volcano.sh/v1beta1",
		podGroupSpec:        map[string]any{"minMember": int64(1), "minResources": map[string]any{"cpu": "3", "memory": "2688Mi"}},
		driverAnnotations:   map[string]string{"scheduling.k8s.io/group-name": "{pg}"},
		executorAnnotations: map[string]string{"scheduling.k8s.io/group-name": "{pg}"},
	},
	{
		// yunikorn: Schedule — task-group-name on both, the task groups on
		// the driver, the queue label on both; no object. The application
		// id is the spark-app-selector label both pods carry.
		file: "kubeflow-spark-operator_v2.5.2_examples_spark-pi-yunikorn.yaml", schedulerName: "yunikorn",
		driverAnnotations: map[string]string{"yunikorn.apache.org/task-group-name": "spark-driver",
			"yunikorn.apache.org/task-groups": `[{"name":"spark-driver","minMember":1,"minResource":{"cpu":"1","memory":"896Mi"}},` +
				`{"name":"spark-executor","minMember":2,"minResource":{"cpu":"1","memory":"896Mi"}}]`},
		executorAnnotations: map[string]string{"yunikorn.apache.org/task-group-name": "spark-executor"},
		driverLabels:        map[string]string{"queue": "root.default", "spark-app-selector": "{app}"},
		executorLabels:      map[string]string{"queue": "root.default", "spark-app-selector": "{app}"},
	},
	{
		// kube-scheduler: Schedule — minMember 1, minResources driver +
		// executors, the pod-group label on the application (so on both).
		file: "kubeflow-spark-operator_v2.5.2_examples_spark-pi-kube-scheduler.yaml", schedulerName: "kube-scheduler",
		podGroupAPI:    "scheduling.x-k8s.io/v1alpha1",
		podGroupSpec:   map[string]any{"minMember": int64(1), "minResources": map[string]any{"cpu": "3", "memory": "2688Mi"}},
		driverLabels:   map[string]string{"scheduling.x-k8s.io/pod-group": "{pg}"},
		executorLabels: map[string]string{"scheduling.x-k8s.io/pod-group": "{pg}"},
	},
}

// TestBatchSchedulerExamples checks the Spark Operator's three
// batch-scheduler examples: no unsupported-field finding, the driver, the
// executor pod template and the PodGroup as the Operator's integration
// makes them, and the driver pod, an executor pod and the PodGroup (owned
// by the driver) accepted by a real API server with the schedulers' CRDs.
func TestBatchSchedulerExamples(t *testing.T) {
	e := env.Env(t)
	for _, ex := range schedulerExamples {
		t.Run(ex.file, func(t *testing.T) {
			report := checkFile(t, filepath.Join(corpusDir, ex.file))
			if len(report.Jobs) != 1 {
				t.Fatalf("%d jobs, want 1", len(report.Jobs))
			}
			j := report.Jobs[0]
			if len(j.Findings) > 0 {
				t.Fatalf("findings, want none:%s", describe(j.Findings))
			}
			ns := e.Namespace(t)
			job := j.Job.DeepCopy()
			job.Namespace = ns
			run := runid.OfflineRun(job, "")
			objs, err := materialize.Materialize(job, run, materialize.DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			pg := runid.PodGroupName(run.Name, run.AppID)
			checkSchedulerPod(t, "driver", objs.Pod, ex.schedulerName, fill(ex.driverAnnotations, pg, run.AppID), fill(ex.driverLabels, pg, run.AppID))
			checkSchedulerPod(t, "executor", objs.Executor, ex.schedulerName, fill(ex.executorAnnotations, pg, run.AppID), fill(ex.executorLabels, pg, run.AppID))
			checkPodGroup(t, objs.PodGroup, ex)

			ctx := t.Context()
			if err := e.Client.Create(ctx, objs.Pod); err != nil {
				t.Fatalf("creating the driver pod: %v", err)
			}
			materialize.SetDriverOwner(objs, objs.Pod)
			for _, d := range objs.Dependents() {
				if err := e.Client.Create(ctx, d); err != nil {
					t.Errorf("creating %T '%s': %v", d, d.GetName(), err)
				}
			}
			exec := objs.Executor.DeepCopy()
			exec.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: objs.Pod.Name, UID: objs.Pod.UID, Controller: ptr.To(true)}}
			if err := e.Client.Create(ctx, exec); err != nil {
				t.Errorf("creating an executor pod: %v", err)
			}
			if objs.PodGroup != nil {
				checkStoredPodGroup(t, e.Client, objs, ex)
			}
		})
	}
}

func fill(m map[string]string, pg, appID string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		switch v {
		case "{pg}":
			v = pg
		case "{app}":
			v = appID
		}
		out[k] = v
	}
	return out
}

func checkSchedulerPod(t *testing.T, role string, pod *corev1.Pod, scheduler string, annotations, labels map[string]string) {
	t.Helper()
	if pod.Spec.SchedulerName != scheduler {
		t.Errorf("%s schedulerName = %q, want %q", role, pod.Spec.SchedulerName, scheduler)
	}
	for k, want := range annotations {
		got := pod.Annotations[k]
		if k == "yunikorn.apache.org/task-groups" {
			got, want = canonicalJSON(t, got), canonicalJSON(t, want)
		}
		if got != want {
			t.Errorf("%s annotation %s = %q, want %q", role, k, got, want)
		}
	}
	for k, want := range labels {
		if got := pod.Labels[k]; got != want {
			t.Errorf("%s label %s = %q, want %q", role, k, got, want)
		}
	}
}

func canonicalJSON(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %q: %v", s, err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func checkPodGroup(t *testing.T, pg *unstructured.Unstructured, ex schedulerExample) {
	t.Helper()
	if ex.podGroupAPI == "" {
		if pg != nil {
			t.Errorf("a PodGroup %s, want none", pg.GetAPIVersion())
		}
		return
	}
	if pg == nil {
		t.Fatalf("no PodGroup, want a %s one", ex.podGroupAPI)
	}
	if pg.GetAPIVersion() != ex.podGroupAPI || pg.GetKind() != "PodGroup" {
		t.Errorf("PodGroup is %s %s, want %s PodGroup", pg.GetAPIVersion(), pg.GetKind(), ex.podGroupAPI)
	}
	if diff := cmp.Diff(ex.podGroupSpec, pg.Object["spec"]); diff != "" {
		t.Errorf("PodGroup spec (-want +got):\n%s", diff)
	}
}

// checkStoredPodGroup reads the PodGroup back: the API server kept the
// spec (its schema prunes unknown fields) and the driver owns it.
func checkStoredPodGroup(t *testing.T, c client.Client, objs *materialize.Objects, ex schedulerExample) {
	t.Helper()
	got := &unstructured.Unstructured{}
	got.SetAPIVersion(ex.podGroupAPI)
	got.SetKind("PodGroup")
	if err := c.Get(t.Context(), client.ObjectKeyFromObject(objs.PodGroup), got); err != nil {
		t.Fatalf("reading the PodGroup back: %v", err)
	}
	spec, _ := got.Object["spec"].(map[string]any)
	for k, want := range ex.podGroupSpec {
		if diff := cmp.Diff(want, spec[k]); diff != "" {
			t.Errorf("stored PodGroup spec.%s (-want +got):\n%s", k, diff)
		}
	}
	owner := metav1.GetControllerOf(got)
	if owner == nil || owner.Kind != "Pod" || owner.UID != objs.Pod.UID {
		t.Errorf("stored PodGroup controller = %+v, want the driver pod %s", owner, objs.Pod.UID)
	}
}
