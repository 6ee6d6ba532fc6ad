package deploy_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
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
