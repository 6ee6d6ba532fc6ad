package reconciler_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/internal/argohealth"
)

// The stand-ins for what differs in each run of the test, in the kept
// objects.
const (
	keptNamespace = "spark-jobs"
	keptURL       = "https://git.example.com/data/jobs.git"
)

// healthTests is Argo CD's health_test.yaml.
type healthTests struct {
	Tests []healthTest `json:"tests"`
}

type healthTest struct {
	HealthStatus argohealth.Status `json:"healthStatus"`
	InputPath    string            `json:"inputPath"`
}

// keep writes the object under testdata with -update-health; otherwise
// it checks that the kept object reads as the live one does: the same
// conditions, generation observed or not, suspend and last run phase.
func (st *statusTools) keep(t *testing.T, c toolCase, u *unstructured.Unstructured) {
	t.Helper()
	st.seen = append(st.seen, c)
	obj := u.DeepCopy()
	for _, f := range []string{"managedFields", "uid", "resourceVersion", "creationTimestamp"} {
		unstructured.RemoveNestedField(obj.Object, "metadata", f)
	}
	b, err := yaml.Marshal(obj.Object)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(strings.ReplaceAll(string(b), st.url, keptURL), st.ns, keptNamespace)
	path := filepath.Join(argoDir, c.kind, "testdata", c.name+".yaml")
	if *updateHealth {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	kept := readKept(t, path)
	if diff := cmp.Diff(projection(kept), projection(u.Object)); diff != "" {
		t.Errorf("%s no longer reads as the live %s %s (-kept +live); run go test ./reconciler -run TestStatusReadByTools -update-health:\n%s", path, c.kind, c.name, diff)
	}
}

// readKept reads a kept object.
func readKept(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v; run go test ./reconciler -run TestStatusReadByTools -update-health", err)
	}
	obj := map[string]any{}
	if err := yaml.Unmarshal(b, &obj); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return obj
}

// projection is what kstatus and the health checks read of an object.
func projection(obj map[string]any) map[string]any {
	gen, _, _ := unstructured.NestedFieldNoCopy(obj, "metadata", "generation")
	observed, _, _ := unstructured.NestedFieldNoCopy(obj, "status", "observedGeneration")
	suspend, _, _ := unstructured.NestedBool(obj, "spec", "suspend")
	phase, _, _ := unstructured.NestedString(obj, "status", "lastRun", "phase")
	conds, _, _ := unstructured.NestedSlice(obj, "status", "conditions")
	var cs []string
	for _, c := range conds {
		m, _ := c.(map[string]any)
		cs = append(cs, stringOf(m["type"])+"="+stringOf(m["status"])+" "+stringOf(m["reason"])+
			" current="+stringOf(m["observedGeneration"] == gen || stringOf(m["observedGeneration"]) == stringOf(gen)))
	}
	return map[string]any{
		"observed": stringOf(observed) == stringOf(gen), "suspend": suspend, "lastRun": phase, "conditions": cs,
	}
}

func stringOf(v any) string {
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := yaml.Marshal(v)
	return strings.TrimSpace(string(b))
}

// writeHealthTests writes each kind's health_test.yaml from the cases
// seen, with -update-health; otherwise it checks that health_test.yaml
// expects of each kept object what the live object read as.
func (st *statusTools) writeHealthTests(t *testing.T) {
	t.Helper()
	byKind := map[string][]toolCase{}
	for _, c := range st.seen {
		byKind[c.kind] = append(byKind[c.kind], c)
	}
	for kind, cases := range byKind {
		path := filepath.Join(argoDir, kind, "health_test.yaml")
		if *updateHealth {
			writeHealthTest(t, kind, path, cases)
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var ht healthTests
		if err := yaml.UnmarshalStrict(b, &ht); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		want := map[string]string{}
		for _, c := range cases {
			want["testdata/"+c.name+".yaml"] = c.argo
		}
		got := map[string]string{}
		for _, h := range ht.Tests {
			got[h.InputPath] = h.HealthStatus.Status
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-live +file):\n%s", path, diff)
		}
	}
}

// writeHealthTest writes health_test.yaml with the status and message the
// health check gives each kept object.
func writeHealthTest(t *testing.T, kind, path string, cases []toolCase) {
	t.Helper()
	script, err := os.ReadFile(filepath.Join(argoDir, kind, "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	var ht healthTests
	for _, c := range cases {
		input := "testdata/" + c.name + ".yaml"
		obj := readKept(t, filepath.Join(argoDir, kind, input))
		hs, err := argohealth.Evaluate(string(script), obj)
		if err != nil {
			t.Fatal(err)
		}
		ht.Tests = append(ht.Tests, healthTest{HealthStatus: hs, InputPath: input})
	}
	b, err := yaml.Marshal(ht)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
