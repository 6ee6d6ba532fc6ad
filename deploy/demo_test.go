package deploy_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	kueue "sigs.k8s.io/kueue/apis/kueue/v1beta2"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/policies"
)

// TestKwokDemo checks the demo's fake node and kwok Stages: the node
// decodes strictly and carries the annotation kwok is told to manage, and
// the stages move nodes to Ready and pods through their phases, drivers to
// Succeeded after a delay.
func TestKwokDemo(t *testing.T) {
	t.Run("node", testKwokNode)
	t.Run("stages", testKwokStages)
}

// testKwokNode checks the fake node decodes, carries the annotation kwok
// manages and allocates pods.
func testKwokNode(t *testing.T) {
	b, err := os.ReadFile("demo/kwok/node.yaml")
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(b, &u.Object); err != nil {
		t.Fatal(err)
	}
	node, ok := typed(t, u).(*corev1.Node)
	if !ok {
		t.Fatalf("node.yaml holds a %s, want a Node", u.GetKind())
	}
	if node.Annotations["kwok.x-k8s.io/node"] != "fake" {
		t.Errorf("node '%s' lacks the annotation kwok.x-k8s.io/node=fake that kwok manages", node.Name)
	}
	if _, ok := node.Status.Allocatable[corev1.ResourcePods]; !ok {
		t.Errorf("node '%s' has no allocatable pods", node.Name)
	}
}

// kwokStage is the part of a kwok Stage the demo relies on, strict
// enough that a misspelt field fails to decode.
type kwokStage struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		ResourceRef struct {
			APIGroup string `json:"apiGroup"`
			Kind     string `json:"kind"`
		} `json:"resourceRef"`
		Selector struct {
			MatchLabels      map[string]string `json:"matchLabels"`
			MatchExpressions []any             `json:"matchExpressions"`
		} `json:"selector"`
		Delay *struct {
			DurationMilliseconds       int64 `json:"durationMilliseconds"`
			JitterDurationMilliseconds int64 `json:"jitterDurationMilliseconds"`
		} `json:"delay"`
		Next struct {
			StatusTemplate string `json:"statusTemplate"`
			Delete         bool   `json:"delete"`
			Finalizers     any    `json:"finalizers"`
			Patches        []struct {
				Root     string `json:"root"`
				Type     string `json:"type"`
				Template string `json:"template"`
			} `json:"patches"`
		} `json:"next"`
		ImmediateNextStage bool `json:"immediateNextStage"`
	} `json:"spec"`
}

// testKwokStages checks the Stages: one per step a node or pod goes
// through, drivers succeeding after a delay.
func testKwokStages(t *testing.T) {
	b, err := os.ReadFile("demo/kwok/stages.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var driver *kwokStage
	for _, doc := range bytes.Split(b, []byte("\n---\n")) {
		s := &kwokStage{}
		if err := yaml.UnmarshalStrict(doc, s); err != nil {
			t.Fatalf("stages.yaml: %v", err)
		}
		if s.APIVersion != "kwok.x-k8s.io/v1alpha1" || s.Kind != "Stage" {
			t.Errorf("stage '%s' is a %s %s", s.Metadata.Name, s.APIVersion, s.Kind)
		}
		got[s.Metadata.Name] = s.Spec.ResourceRef.APIGroup + "/" + s.Spec.ResourceRef.Kind
		if s.Metadata.Name == "pod-complete-driver" {
			driver = s
		}
	}
	want := map[string]string{
		"node-initialize": "v1/Node", "node-heartbeat": "v1/Node",
		"pod-ready": "v1/Pod", "pod-complete-driver": "v1/Pod", "pod-delete": "v1/Pod",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stages (-want +got):\n%s", diff)
	}
	if driver == nil {
		t.Fatal("no pod-complete-driver stage")
	}
	if driver.Spec.Selector.MatchLabels["spark-role"] != "driver" {
		t.Errorf("pod-complete-driver selects %v, want spark-role=driver", driver.Spec.Selector.MatchLabels)
	}
	// kwok's jitter is the delay's upper bound: below the duration, it
	// would replace it.
	if d := driver.Spec.Delay; d == nil || d.DurationMilliseconds < 5000 || d.JitterDurationMilliseconds < d.DurationMilliseconds || d.JitterDurationMilliseconds > 30000 {
		t.Errorf("pod-complete-driver delay = %+v, want about ten seconds", d)
	}
}

// TestKueueDemo checks the files of the demo's queueing act (make demo
// QUEUE=kueue): the queues decode strictly as Kueue's types, the jobs as
// SparkJobs naming the LocalQueue, and the ClusterQueue's quota holds two
// of the jobs' runs at their peak — what each run's Workload reserves —
// and not three.
func TestKueueDemo(t *testing.T) {
	s := runtime.NewScheme()
	if err := kueue.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	dec := serializer.NewCodecFactory(s, serializer.EnableStrict).UniversalDeserializer()
	var cq *kueue.ClusterQueue
	var lq *kueue.LocalQueue
	for _, doc := range yamlDocs(t, "demo/kueue/queues.yaml") {
		obj, _, err := dec.Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("queues.yaml: %v", err)
		}
		switch o := obj.(type) {
		case *kueue.ClusterQueue:
			cq = o
		case *kueue.LocalQueue:
			lq = o
		}
	}
	if cq == nil || lq == nil || string(lq.Spec.ClusterQueue) != cq.Name || lq.Namespace != "spark-dev" {
		t.Fatalf("queues.yaml: want a LocalQueue in spark-dev pointing at its ClusterQueue, got %+v and %+v", lq, cq)
	}
	quota := corev1.ResourceList{}
	for _, fq := range cq.Spec.ResourceGroups[0].Flavors {
		for _, r := range fq.Resources {
			quota[r.Name] = r.NominalQuota
		}
	}
	docs := yamlDocs(t, "demo/kueue/jobs.yaml")
	if len(docs) != 3 {
		t.Fatalf("jobs.yaml holds %d jobs, want 3", len(docs))
	}
	for _, doc := range docs {
		job := &v1alpha1.SparkJob{}
		if err := yaml.UnmarshalStrict(doc, job); err != nil {
			t.Fatalf("jobs.yaml: %v", err)
		}
		opts := job.Spec.BatchSchedulerOptions
		if job.Spec.BatchScheduler == nil || *job.Spec.BatchScheduler != v1alpha1.KueueScheduler || opts == nil || opts.Queue == nil || *opts.Queue != lq.Name {
			t.Errorf("job '%s' is not queued in LocalQueue '%s'", job.Name, lq.Name)
		}
		env, err := policies.ComputeEnvelope(job)
		if err != nil || env.PeakCPU == nil {
			t.Fatalf("job '%s': envelope %+v, %v", job.Name, env, err)
		}
		cpu, mem := env.PeakCPU.MilliValue(), *env.PeakMemoryMiB<<20
		qcpu, qmem := quota.Cpu().MilliValue(), quota.Memory().Value()
		if 2*cpu > qcpu || 2*mem > qmem || 3*cpu <= qcpu && 3*mem <= qmem {
			t.Errorf("job '%s' peaks at %dm cpu, %dMi: the quota %dm cpu, %dMi must fit two runs and not three",
				job.Name, cpu, mem>>20, qcpu, qmem>>20)
		}
	}
}

// yamlDocs splits a YAML file into its documents.
func yamlDocs(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var docs [][]byte
	for _, doc := range bytes.Split(b, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) > 0 {
			docs = append(docs, doc)
		}
	}
	return docs
}
