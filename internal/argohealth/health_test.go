package argohealth_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/internal/argohealth"
)

// root is the repository's root.
const root = "../.."

// healthTests is Argo CD's health_test.yaml.
type healthTests struct {
	Tests []struct {
		HealthStatus argohealth.Status `json:"healthStatus"`
		InputPath    string            `json:"inputPath"`
	} `json:"tests"`
}

// TestShippedHealthChecks (issue 18, item 9): each health check sparkcd
// ships — deploy/argocd/sparkcd.io/<kind>/health.lua, the same script in
// the argocd-cm snippet deploy/argocd/argocd-cm.yaml and in the snippet
// docs/argocd.md shows — gives each kept object (written from the live
// loops by TestStatusReadByTools in ./reconciler) the status and message
// its health_test.yaml expects, as Argo CD runs it.
func TestShippedHealthChecks(t *testing.T) {
	cm := snippetScripts(t, filepath.Join(root, "deploy/argocd/argocd-cm.yaml"), false)
	docs := snippetScripts(t, filepath.Join(root, "docs/argocd.md"), true)
	for _, kind := range []string{"SparkJob", "JobSource"} {
		dir := filepath.Join(root, "deploy/argocd/sparkcd.io", kind)
		key := "resource.customizations.health.sparkcd.io_" + kind
		script := string(mustRead(t, filepath.Join(dir, "health.lua")))
		if diff := cmp.Diff(script, cm[key]); diff != "" {
			t.Errorf("argocd-cm.yaml %s differs from %s/health.lua (-health.lua +argocd-cm.yaml):\n%s", key, kind, diff)
		}
		if diff := cmp.Diff(cm[key], docs[key]); diff != "" {
			t.Errorf("docs/argocd.md %s differs from argocd-cm.yaml (-argocd-cm.yaml +docs):\n%s", key, diff)
		}
		var ht healthTests
		if err := yaml.UnmarshalStrict(mustRead(t, filepath.Join(dir, "health_test.yaml")), &ht); err != nil {
			t.Fatal(err)
		}
		if len(ht.Tests) == 0 {
			t.Fatalf("%s/health_test.yaml has no tests", kind)
		}
		for _, tc := range ht.Tests {
			obj := map[string]any{}
			if err := yaml.Unmarshal(mustRead(t, filepath.Join(dir, tc.InputPath)), &obj); err != nil {
				t.Fatal(err)
			}
			for from, s := range map[string]string{"health.lua": script, "argocd-cm.yaml": cm[key], "docs/argocd.md": docs[key]} {
				got, err := argohealth.Evaluate(s, obj)
				if err != nil {
					t.Errorf("%s %s (%s): %v", kind, tc.InputPath, from, err)
					continue
				}
				if diff := cmp.Diff(tc.HealthStatus, got); diff != "" {
					t.Errorf("%s %s (%s) (-want +got):\n%s", kind, tc.InputPath, from, diff)
				}
			}
		}
	}
}

// snippetScripts reads the data of the argocd-cm ConfigMap in path — the
// file itself, or with fenced the first ```yaml block of a Markdown file
// that holds it.
func snippetScripts(t *testing.T, path string, fenced bool) map[string]string {
	t.Helper()
	b := mustRead(t, path)
	if fenced {
		m := regexp.MustCompile("(?s)```yaml\n(apiVersion: v1\nkind: ConfigMap\n.*?)```").FindSubmatch(b)
		if m == nil {
			t.Fatalf("%s has no ```yaml block with the argocd-cm ConfigMap", path)
		}
		b = m[1]
	}
	var cm struct {
		Metadata struct{ Name string } `json:"metadata"`
		Data     map[string]string     `json:"data"`
	}
	if err := yaml.Unmarshal(b, &cm); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if cm.Metadata.Name != "argocd-cm" || len(cm.Data) != 2 {
		t.Fatalf("%s: ConfigMap %q with keys %v, want argocd-cm with the two health checks", path, cm.Metadata.Name, cm.Data)
	}
	return cm.Data
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEvaluateAsArgoCD: the harness is as strict as Argo CD — no string
// library, a status Argo CD knows, a table returned, one second to run.
func TestEvaluateAsArgoCD(t *testing.T) {
	obj := map[string]any{"spec": map[string]any{"suspend": true}, "status": map[string]any{
		"conditions": []any{map[string]any{"type": "Ready", "status": "True", "observedGeneration": int64(2)}},
	}}
	for _, tc := range []struct {
		name, script, want string
		err                error
	}{
		{name: "obj", script: `return {status = obj.spec.suspend and "Suspended" or "Healthy", message = obj.status.conditions[1].type .. obj.status.conditions[1].observedGeneration}`, want: "Suspended"},
		{name: "no string library", script: `return {status = string.upper("healthy")}`},
		{name: "unknown status", script: `return {status = "Fine"}`, err: argohealth.ErrInvalidStatus},
		{name: "no table", script: `return "Healthy"`},
		{name: "too long", script: `while true do end`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := argohealth.Evaluate(tc.script, obj)
			switch {
			case tc.want != "":
				if err != nil || got.Status != tc.want || got.Message != "Ready2" {
					t.Errorf("got %+v, %v; want %s, message Ready2", got, err, tc.want)
				}
			case err == nil:
				t.Errorf("got %+v, want an error", got)
			case tc.err != nil && !errors.Is(err, tc.err):
				t.Errorf("error %v, want %v", err, tc.err)
			case strings.TrimSpace(err.Error()) == "":
				t.Error("empty error")
			}
		})
	}
}
