package deploy_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// chartPairs pairs each kustomize install of deploy/ with the chart values
// that install the same: a new optional part of deploy/ is one entry
// here. kustomize lists the kustomizations built (directories under
// deploy/); components builds deploy/components/NAME into namespaces, as
// a namespace's kustomization includes them; overlayComponents are
// deploy/components included by an overlay of the kustomize directories
// (as deploy/components/monitoring is). policiesFrom is a directory under
// deploy/ whose files become the chart's policies value.
var chartPairs = []struct {
	name              string
	kustomize         []string
	overlayComponents []string
	components        map[string][]string // namespace → components
	values            string
	policiesFrom      string
}{
	{name: "default", kustomize: []string{"default"}},
	{
		name:      "cleanup-cronjob",
		kustomize: []string{"cleanup-cronjob"},
		values:    "cleanup: {cronJob: {enabled: true}}",
	},
	{
		name:       "spark-namespace",
		kustomize:  []string{"default"},
		components: map[string][]string{"spark-dev": {"spark-namespace"}, "spark-prod": {"spark-namespace"}},
		values:     "components: {sparkNamespace: {namespaces: [spark-dev, spark-prod]}}",
	},
	{
		name:       "source-identity",
		kustomize:  []string{"default"},
		components: map[string][]string{"team-a": {"source-identity"}},
		values:     "components: {sourceIdentity: {namespaces: [team-a]}}",
	},
	{
		name:       "source-secrets",
		kustomize:  []string{"default"},
		components: map[string][]string{"spark-dev": {"source-secrets"}},
		values:     "components: {sourceSecrets: {namespaces: [spark-dev]}}",
	},
	{
		name:         "policies",
		kustomize:    []string{"default", "examples/policies"},
		policiesFrom: "examples/policies",
	},
	{
		name:      "webhook-ingress",
		kustomize: []string{"default", "examples/webhook-ingress"},
		values: `webhook:
  ingress:
    enabled: true
    className: nginx
    host: sparkcd-hooks.example.com
    annotations: {cert-manager.io/cluster-issuer: letsencrypt}
    tls: [{hosts: [sparkcd-hooks.example.com], secretName: sparkcd-hooks-tls}]`,
	},
	{
		name:              "monitoring",
		kustomize:         []string{"default"},
		overlayComponents: []string{"monitoring"},
		values:            "serviceMonitor: {enabled: true}\nprometheusRule: {enabled: true}\ngrafanaDashboard: {enabled: true}",
	},
	{
		name:              "monitoring-podmonitor",
		kustomize:         []string{"default"},
		overlayComponents: []string{"monitoring", "monitoring-podmonitor"},
		values:            "podMonitor: {enabled: true}\nprometheusRule: {enabled: true}\ngrafanaDashboard: {enabled: true}",
	},
	{
		name:              "shard",
		kustomize:         []string{"default"},
		overlayComponents: []string{"shard"},
		values:            "shards: [shard1]",
	},
	{
		name:       "supporting-objects",
		kustomize:  []string{"default"},
		components: map[string][]string{"spark-dev": {"supporting-objects"}, "team-a": {"supporting-objects"}},
		values:     "components: {supportingObjects: {namespaces: [spark-dev, team-a]}}",
	},
}

// chartBaseValues are what every pair sets: deploy/default creates its
// namespace, which helm install --create-namespace does instead.
const chartBaseValues = "namespace: {create: true}\n"

// TestChartMatchesKustomize renders the chart and builds kustomize for
// each pair and compares the objects, by group, kind, namespace and name,
// and then whole, after normalizing only what must differ: Helm's labels
// and the checksum annotations the chart rolls its pods with where
// kustomize puts a content hash in the generated ConfigMaps' names.
func TestChartMatchesKustomize(t *testing.T) {
	for _, pair := range chartPairs {
		t.Run(pair.name, func(t *testing.T) {
			var want []*unstructured.Unstructured
			if len(pair.overlayComponents) > 0 {
				want = chartOverlay(t, pair.kustomize, pair.overlayComponents)
			} else {
				for _, dir := range pair.kustomize {
					want = append(want, build(t, dir)...)
				}
			}
			namespaces := make([]string, 0, len(pair.components))
			for ns := range pair.components {
				namespaces = append(namespaces, ns)
			}
			sort.Strings(namespaces)
			for _, ns := range namespaces {
				var dirs []string
				for _, c := range pair.components[ns] {
					dirs = append(dirs, "components/"+c)
				}
				want = append(want, componentInto(t, ns, dirs...)...)
			}
			values := chartBaseValues + pair.values
			if pair.policiesFrom != "" {
				values += "\n" + policiesValue(t, pair.policiesFrom)
			}
			got := renderChart(t, "sparkcd-system", nil, values)
			compareObjects(t, normalizeKustomize(t, want), normalizeChart(got))
		})
	}
}

// chartOverlay builds, in memory, an overlay of deploy/ whose resources are the
// directories given and whose components are the deploy/components given.
func chartOverlay(t *testing.T, resources, components []string) []*unstructured.Unstructured {
	t.Helper()
	fsys := filesys.MakeFsInMemory()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".go") || strings.HasPrefix(path, "testdata") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return fsys.WriteFile("/deploy/"+filepath.ToSlash(path), b)
	})
	if err != nil {
		t.Fatal(err)
	}
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
	for _, r := range resources {
		k += "  - ../" + r + "\n"
	}
	k += "components:\n"
	for _, c := range components {
		k += "  - ../components/" + c + "\n"
	}
	if err := fsys.WriteFile("/deploy/test-overlay/kustomization.yaml", []byte(k)); err != nil {
		t.Fatal(err)
	}
	return buildFS(t, fsys, "/deploy/test-overlay")
}

// policiesValue is the chart's policies value holding the YAML files of
// dir.
func policiesValue(t *testing.T, dir string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	policies := map[string]string{}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		policies[filepath.Base(f)] = string(b)
	}
	b, err := yaml.Marshal(map[string]any{"policies": policies})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// compareObjects fails with the objects only one side has, and a diff of
// each object both have that differs.
func compareObjects(t *testing.T, kustomize, chart map[string]*unstructured.Unstructured) {
	t.Helper()
	keys := map[string]bool{}
	for k := range kustomize {
		keys[k] = true
	}
	for k := range chart {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		want, got := kustomize[k], chart[k]
		switch {
		case got == nil:
			t.Errorf("%s: kustomize installs it, the chart does not", k)
		case want == nil:
			t.Errorf("%s: the chart installs it, kustomize does not", k)
		default:
			if diff := yamlDiff(t, want, got); diff != "" {
				t.Errorf("%s differs:\n%s", k, diff)
			}
		}
	}
}

// yamlDiff is a unified diff of two objects as YAML (keys sorted), empty
// when they are equal.
func yamlDiff(t *testing.T, kustomize, chart *unstructured.Unstructured) string {
	t.Helper()
	if equality.Semantic.DeepEqual(kustomize.Object, chart.Object) {
		return ""
	}
	a, err := yaml.Marshal(kustomize.Object)
	if err != nil {
		t.Fatal(err)
	}
	b, err := yaml.Marshal(chart.Object)
	if err != nil {
		t.Fatal(err)
	}
	diff, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(string(a)), B: difflib.SplitLines(string(b)),
		FromFile: "kustomize", ToFile: "chart", Context: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff == "" { // equal as YAML, unequal as Go values (a number's type)
		diff = cmp.Diff(kustomize.Object, chart.Object)
	}
	return diff
}

// objectKey names an object by group, kind, namespace and name.
func objectKey(u *unstructured.Unstructured) string {
	gvk := u.GroupVersionKind()
	name := u.GetName()
	if ns := u.GetNamespace(); ns != "" {
		name = ns + "/" + name
	}
	return fmt.Sprintf("%s %s", gvk.GroupKind(), name)
}

// normalizeKustomize keys the objects and drops kustomize's content hash
// from the generated ConfigMaps' names, everywhere they are named. An
// object two builds share (a component's ClusterRole in two namespaces)
// must be the same in both.
func normalizeKustomize(t *testing.T, objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	t.Helper()
	generated := map[string]string{}
	for _, u := range objs {
		if u.GetKind() == "ConfigMap" && hashSuffix.MatchString(u.GetName()) {
			generated[u.GetName()] = hashSuffix.ReplaceAllString(u.GetName(), "")
		}
	}
	byKey := map[string]*unstructured.Unstructured{}
	for _, u := range objs {
		u = &unstructured.Unstructured{Object: renameStrings(u.Object, generated).(map[string]any)}
		k := objectKey(u)
		if prev, ok := byKey[k]; ok {
			if diff := cmp.Diff(prev.Object, u.Object); diff != "" {
				t.Fatalf("kustomize builds %s twice, differently:\n%s", k, diff)
			}
		}
		byKey[k] = u
	}
	return byKey
}

// renameStrings returns v with every string equal to a key of names
// replaced by its value.
func renameStrings(v any, names map[string]string) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = renameStrings(e, names)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = renameStrings(e, names)
		}
		return out
	case string:
		if n, ok := names[v]; ok {
			return n
		}
	}
	return v
}

// helmOnlyLabels are the labels the chart adds to every object and
// deploy/ has none of.
var helmOnlyLabels = []string{
	"helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance", "app.kubernetes.io/version",
}

// checksumAnnotation is an annotation of the pod template that rolls the
// pods when a ConfigMap changes.
var checksumAnnotation = regexp.MustCompile(`^checksum/`)

// normalizeChart keys the objects and drops Helm's own labels, the CRDs'
// helm.sh/resource-policy and the pod templates' checksum annotations.
func normalizeChart(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	byKey := map[string]*unstructured.Unstructured{}
	for _, u := range objs {
		u = u.DeepCopy()
		labels := u.GetLabels()
		for _, l := range helmOnlyLabels {
			delete(labels, l)
		}
		setOrRemove(u, labels, "metadata", "labels")
		annotations := u.GetAnnotations()
		delete(annotations, "helm.sh/resource-policy")
		setOrRemove(u, annotations, "metadata", "annotations")
		if tmpl, ok, _ := unstructured.NestedMap(u.Object, "spec", "template", "metadata", "annotations"); ok {
			for k := range tmpl {
				if checksumAnnotation.MatchString(k) {
					delete(tmpl, k)
				}
			}
			setOrRemove(u, tmpl, "spec", "template", "metadata", "annotations")
		}
		byKey[objectKey(u)] = u
	}
	return byKey
}

// setOrRemove sets the string map at path, or removes the field when the
// map is empty (as deploy/ writes no empty labels or annotations).
func setOrRemove[V string | any](u *unstructured.Unstructured, m map[string]V, path ...string) {
	if len(m) == 0 {
		unstructured.RemoveNestedField(u.Object, path...)
		return
	}
	v := make(map[string]any, len(m))
	for k, e := range m {
		v[k] = e
	}
	u.Object = setNested(u.Object, v, path)
}

// setNested sets value at path in obj.
func setNested(obj map[string]any, value any, path []string) map[string]any {
	if err := unstructured.SetNestedField(obj, value, path...); err != nil {
		panic(err) // path holds maps only: the object was decoded from YAML
	}
	return obj
}

// chartFiles are the files of deploy/ the chart renders as they are, and
// the directory under chart/files holding their copies (`make
// chart-files`, part of `make generate`; Helm reads no file outside its
// chart).
var chartFiles = map[string]string{
	"crds/sparkcd.io_*.yaml":                       "crds",
	"components/monitoring/prometheusrule.yaml":    "monitoring",
	"components/monitoring/grafana-dashboard.json": "monitoring",
}

// TestChartFilesCopied: the chart's copies are the files of deploy/, and
// the chart holds no other.
func TestChartFilesCopied(t *testing.T) {
	want := map[string]string{} // copy → original
	for pattern, dir := range chartFiles {
		files, err := filepath.Glob(pattern)
		if err != nil || len(files) == 0 {
			t.Fatalf("no file %s in deploy/ (%v)", pattern, err)
		}
		for _, f := range files {
			want[filepath.Join(chartDir, "files", dir, filepath.Base(f))] = f
		}
	}
	copies, err := filepath.Glob(filepath.Join(chartDir, "files", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range copies {
		if _, ok := want[c]; !ok {
			t.Errorf("deploy/%s is a copy of no file of deploy/: remove it, or add its original to chartFiles and the Makefile's CHART_FILES", c)
		}
	}
	for c, original := range want {
		a, errA := os.ReadFile(original)
		b, errB := os.ReadFile(c)
		if err := errors.Join(errA, errB); err != nil {
			t.Errorf("%v: run `make chart-files`", err)
			continue
		}
		if !bytes.Equal(a, b) {
			t.Errorf("deploy/%s differs from deploy/%s: run `make chart-files`", c, original)
		}
	}
}
