package deploy_test

import (
	"fmt"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
)

// TestShardComponent: deploy/default with components/shard installs a
// second instance, shard1, with its own Lease, and the main instance
// leaves shard1's objects to it; no Deployment, PodDisruptionBudget or
// Service of one instance selects the other's pods.
func TestShardComponent(t *testing.T) {
	objs := chartOverlay(t, []string{"default"}, []string{"shard"})
	main, shard := find(t, objs, "Deployment", "sparkcd"), find(t, objs, "Deployment", "sparkcd-shard1")
	if args := containerArgs(t, main); !slices.Contains(args, "--watch-label-selector=!sparkcd.io/shard") {
		t.Errorf("main Deployment args %v, want --watch-label-selector=!sparkcd.io/shard", args)
	}
	if args := containerArgs(t, shard); !slices.Contains(args, "--shard=shard1") || !slices.Contains(args, "--leader-elect") {
		t.Errorf("shard Deployment args %v, want --shard=shard1 and --leader-elect", args)
	}
	role := find(t, objs, "Role", "sparkcd-leader-election")
	rules, _, _ := unstructured.NestedSlice(role.Object, "rules")
	names, _, _ := unstructured.NestedStringSlice(rules[1].(map[string]any), "resourceNames")
	if !slices.Equal(names, []string{"sparkcd-leader", "sparkcd-leader-shard1"}) {
		t.Errorf("Lease names %v, want sparkcd-leader and sparkcd-leader-shard1", names)
	}
	pods := map[string]labels.Set{"main": podLabels(t, main), "shard1": podLabels(t, shard)}
	for _, o := range objs {
		path := []string{"spec", "selector", "matchLabels"}
		if o.GetKind() == "Service" {
			path = []string{"spec", "selector"}
		}
		if o.GetKind() != "Deployment" && o.GetKind() != "PodDisruptionBudget" && o.GetKind() != "Service" {
			continue
		}
		m, _, _ := unstructured.NestedStringMap(o.Object, path...)
		sel := labels.SelectorFromSet(m)
		own := "main"
		if o.GetName() == "sparkcd-shard1" {
			own = "shard1"
		}
		for inst, l := range pods {
			if got, want := sel.Matches(l), inst == own; got != want {
				t.Errorf("%s/%s selects the %s pods: %t, want %t", o.GetKind(), o.GetName(), inst, got, want)
			}
		}
	}
}

func containerArgs(t *testing.T, d *unstructured.Unstructured) []string {
	t.Helper()
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	args, _, err := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
	if err != nil {
		t.Fatal(err)
	}
	return args
}

func podLabels(t *testing.T, d *unstructured.Unstructured) labels.Set {
	t.Helper()
	l, _, err := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "labels")
	if err != nil {
		t.Fatal(fmt.Errorf("pod labels of %s: %w", d.GetName(), err))
	}
	return l
}
