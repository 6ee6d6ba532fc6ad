package deploy_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// monitoringKinds are the kinds of the Prometheus Operator the monitoring
// components ship.
var monitoringKinds = map[string]bool{"ServiceMonitor": true, "PodMonitor": true, "PrometheusRule": true}

// overlay builds, in memory, an overlay of deploy/default with the
// components (directories under deploy/), as a platform team's would.
func overlay(t *testing.T, components ...string) []*unstructured.Unstructured {
	t.Helper()
	fsys := filesys.MakeFsInMemory()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".go") || strings.HasPrefix(path, "testdata") {
			return err
		}
		b, err := os.ReadFile(path)
		if err == nil {
			err = fsys.WriteFile("/deploy/"+filepath.ToSlash(path), b)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../default\ncomponents:\n"
	for _, c := range components {
		k += "  - ../" + c + "\n"
	}
	if err := fsys.WriteFile("/deploy/test-overlay/kustomization.yaml", []byte(k)); err != nil {
		t.Fatal(err)
	}
	return buildFS(t, fsys, "/deploy/test-overlay")
}

// TestMonitoringComponent checks what deploy/components/monitoring adds to
// the install, and that monitoring-podmonitor swaps its ServiceMonitor
// for a PodMonitor: each scrapes sparkcd's metrics port, keeping sparkcd's
// own namespace and job labels; the dashboard's ConfigMap is the one the
// Grafana sidecar loads.
func TestMonitoringComponent(t *testing.T) {
	objs := overlay(t, "components/monitoring")
	if got, want := len(objs), len(build(t, "default"))+3; got != want {
		t.Errorf("the overlay has %d objects, want deploy/default's and 3 more", got)
	}
	sm := find(t, objs, "ServiceMonitor", "sparkcd")
	svc := decodeAs[*corev1.Service](t, objs, "Service", "sparkcd")
	if s := matchLabels(t, sm, "spec", "selector", "matchLabels"); !s.Matches(labels.Set(svc.Labels)) {
		t.Errorf("the ServiceMonitor's selector %s does not match the Service's labels %v", s, svc.Labels)
	}
	svcPorts := map[string]bool{}
	for _, p := range svc.Spec.Ports {
		svcPorts[p.Name] = true
	}
	checkEndpoints(t, sm, "endpoints", svcPorts)
	find(t, objs, "PrometheusRule", "sparkcd")
	cm := decodeAs[*corev1.ConfigMap](t, objs, "ConfigMap", "sparkcd-grafana-dashboard")
	want, err := os.ReadFile("components/monitoring/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	if cm.Labels["grafana_dashboard"] != "1" || cm.Namespace != "sparkcd-system" || cm.Data["sparkcd.json"] != string(want) {
		t.Errorf("dashboard ConfigMap %s/%s labels %v keys %d: want label grafana_dashboard \"1\" and sparkcd.json the dashboard",
			cm.Namespace, cm.Name, cm.Labels, len(cm.Data))
	}

	objs = overlay(t, "components/monitoring", "components/monitoring-podmonitor")
	for _, u := range objs {
		if u.GetKind() == "ServiceMonitor" {
			t.Errorf("ServiceMonitor '%s' left beside the PodMonitor: both would scrape", u.GetName())
		}
	}
	pm := find(t, objs, "PodMonitor", "sparkcd")
	dep := decodeAs[*appsv1.Deployment](t, objs, "Deployment", "sparkcd")
	if s := matchLabels(t, pm, "spec", "selector", "matchLabels"); !s.Matches(labels.Set(dep.Spec.Template.Labels)) {
		t.Errorf("the PodMonitor's selector %s does not match sparkcd's pods", s)
	}
	podPorts := map[string]bool{}
	for _, p := range container(t, &dep.Spec.Template.Spec, "sparkcd").Ports {
		podPorts[p.Name] = true
	}
	checkEndpoints(t, pm, "podMetricsEndpoints", podPorts)
	find(t, objs, "PrometheusRule", "sparkcd")
	find(t, objs, "ConfigMap", "sparkcd-grafana-dashboard")
}

func matchLabels(t *testing.T, u *unstructured.Unstructured, path ...string) labels.Selector {
	t.Helper()
	m, ok, err := unstructured.NestedStringMap(u.Object, path...)
	if err != nil || !ok || len(m) == 0 {
		t.Fatalf("%s '%s': no %s (%v)", u.GetKind(), u.GetName(), strings.Join(path, "."), err)
	}
	return labels.SelectorFromSet(m)
}

// checkEndpoints: one endpoint, on the metrics port, honouring sparkcd's
// labels.
func checkEndpoints(t *testing.T, u *unstructured.Unstructured, field string, ports map[string]bool) {
	t.Helper()
	eps, _, _ := unstructured.NestedSlice(u.Object, "spec", field)
	if len(eps) != 1 {
		t.Fatalf("%s '%s': %d %s, want 1", u.GetKind(), u.GetName(), len(eps), field)
	}
	ep, _ := eps[0].(map[string]any)
	if port, _ := ep["port"].(string); port != "metrics" || !ports[port] {
		t.Errorf("%s '%s' scrapes port %q, want the named port 'metrics' (ports: %v)", u.GetKind(), u.GetName(), port, ports)
	}
	if h, _ := ep["honorLabels"].(bool); !h {
		t.Errorf("%s '%s': honorLabels is not true: sparkcd's namespace and job labels would become exported_*", u.GetKind(), u.GetName())
	}
}

// promOperatorCRDs reads the prometheus-operator CRDs of testdata (their
// source: testdata/prometheus-operator-crds/SOURCE.md).
func promOperatorCRDs(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	files, err := filepath.Glob("testdata/prometheus-operator-crds/*.yaml")
	if err != nil || len(files) != 3 {
		t.Fatalf("want the 3 prometheus-operator CRDs in testdata/prometheus-operator-crds, found %v (%v)", files, err)
	}
	var crds []*unstructured.Unstructured
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(b, &u.Object); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		crds = append(crds, u)
	}
	return crds
}

// TestMonitoringComponentApplies installs the Prometheus Operator's CRDs
// on the real API server and server-side applies both variants of the
// component: each object validates against the real schemas. A rule with
// a duration Prometheus would not read is refused, so the schemas are in
// force.
func TestMonitoringComponentApplies(t *testing.T) {
	e := installed(t)
	apply(t, e, promOperatorCRDs(t))
	var objs []*unstructured.Unstructured
	seen := map[string]bool{}
	for _, u := range append(overlay(t, "components/monitoring"), overlay(t, "components/monitoring", "components/monitoring-podmonitor")...) {
		if (monitoringKinds[u.GetKind()] || u.GetName() == "sparkcd-grafana-dashboard") && !seen[describe(u)] {
			seen[describe(u)] = true
			objs = append(objs, u)
		}
	}
	if len(objs) != 4 {
		t.Fatalf("%d monitoring objects in the two builds, want 4", len(objs))
	}
	apply(t, e, objs)
	for _, u := range objs {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(u.GroupVersionKind())
		if err := e.Client.Get(t.Context(), client.ObjectKeyFromObject(u), got); err != nil {
			t.Errorf("%s '%s' after apply: %v", u.GetKind(), u.GetName(), err)
		}
	}

	bad := find(t, objs, "PrometheusRule", "sparkcd").DeepCopy()
	bad.SetName("sparkcd-bad")
	groups, _, _ := unstructured.NestedSlice(bad.Object, "spec", "groups")
	g := groups[0].(map[string]any)
	rules := g["rules"].([]any)
	rules[0].(map[string]any)["for"] = "5 minutes"
	if err := unstructured.SetNestedSlice(bad.Object, groups, "spec", "groups"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	err := e.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(bad), client.FieldOwner(fieldOwner), client.ForceOwnership)
	if err == nil || !strings.Contains(err.Error(), "spec.groups[0].rules[0].for") {
		t.Errorf("a PrometheusRule with for: '5 minutes' applied (%v), want it refused by the CRD's schema", err)
	}
}
