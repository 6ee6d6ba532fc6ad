package review

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// secretValues are the values of the Secrets of testdata/supporting, in
// every spelling they could leak in.
var secretValues = []string{"supersecretpassword", "c3VwZXJzZWNyZXRwYXNzd29yZA", "topsecrettoken"}

// TestCheckSupportingObjects: the objects beside a job are listed with
// their file and line, a kind outside the list or a cluster-scoped one is
// an error, and a job that needs a ConfigMap or Secret the path lacks (or
// holds where it is never applied) gets a missing-reference warning.
func TestCheckSupportingObjects(t *testing.T) {
	report, err := Check(t.Context(), "testdata/supporting", "app", DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range report.Objects {
		line := fmt.Sprintf("%s %s %s", objectTitle(&o), o.Source, objectStatus(&o))
		for _, f := range o.Findings {
			line += " " + f.Rule
		}
		got = append(got, line)
	}
	want := []string{
		"ClusterRole.rbac.authorization.k8s.io /spark app/support.yaml:29 FAIL cluster-scoped",
		"Secret other/pi-creds-elsewhere app/support.yaml:21 ok",
		"ConfigMap spark-jobs/pi-conf app/support.yaml:1 ok",
		"Secret spark-jobs/pi-creds app/support.yaml:9 ok",
		"Deployment.apps spark-jobs/web app/support.yaml:35 FAIL kind-not-allowed",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	var refs []string
	for _, f := range report.Jobs[0].Findings {
		if f.Rule == "missing-reference" {
			refs = append(refs, string(f.Severity)+" "+f.Field)
		}
	}
	wantRefs := []string{
		"warning spec.sparkConfigMap",
		"warning spec.imagePullSecrets[0]",
		"warning spec.executor.secrets[0].name",
	}
	if diff := cmp.Diff(wantRefs, refs); diff != "" {
		t.Errorf("missing references (-want +got):\n%s", diff)
	}
	if s := report.Summary(); s.Objects != 5 || s.Errors != 2 || s.Warnings != 3 {
		t.Errorf("summary = %+v, want 5 objects, 2 errors, 3 warnings", s)
	}
}

// TestCheckSupportingKindsOption: the allowed list replaces the default;
// with Deployment allowed only the cluster-scoped ClusterRole is refused,
// and a Secret no longer allowed no longer satisfies a job's reference.
func TestCheckSupportingKindsOption(t *testing.T) {
	opts := DefaultOptions()
	opts.SupportingKinds = []v1alpha1.SupportingKind{{Kind: "ConfigMap"}, {Group: "apps", Kind: "Deployment"},
		{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}}
	report, err := Check(t.Context(), "testdata/supporting", "app", opts)
	if err != nil {
		t.Fatal(err)
	}
	var refused []string
	for _, o := range report.Objects {
		if !o.Admitted() {
			refused = append(refused, objectTitle(&o)+" "+o.Findings[0].Rule)
		}
	}
	want := []string{
		"ClusterRole.rbac.authorization.k8s.io /spark cluster-scoped",
		"Secret other/pi-creds-elsewhere kind-not-allowed",
		"Secret spark-jobs/pi-creds kind-not-allowed",
	}
	if diff := cmp.Diff(want, refused); diff != "" {
		t.Errorf("refused (-want +got):\n%s", diff)
	}
	found := false
	for _, f := range report.Jobs[0].Findings {
		found = found || f.Field == "spec.driver.envFrom[0].secretRef.name"
	}
	if !found {
		t.Errorf("no missing-reference for the Secret that is not applied: %v", report.Jobs[0].Findings)
	}
}

// TestSupportingSecretsNeverPrinted renders and checks in every format and
// greps for the Secrets' values.
func TestSupportingSecretsNeverPrinted(t *testing.T) {
	report, err := Check(t.Context(), "testdata/supporting", "app", DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{}
	for _, format := range []string{"yaml", "json"} {
		var buf bytes.Buffer
		if err := WriteObjects(&buf, report.SupportingObjects(), format); err != nil {
			t.Fatal(err)
		}
		outputs["render "+format] = buf.String()
	}
	for _, format := range Formats {
		var buf bytes.Buffer
		if err := report.Write(&buf, format); err != nil {
			t.Fatal(err)
		}
		outputs["check "+format] = buf.String()
	}
	for name, out := range outputs {
		for _, v := range secretValues {
			if strings.Contains(out, v) {
				t.Errorf("%s prints a Secret value (%s):\n%s", name, v, out)
			}
		}
	}
	render := outputs["render yaml"]
	for _, want := range []string{"password: '<redacted: 19 bytes>'", "token: '<redacted: 14 bytes>'", "name: pi-conf", "a: b"} {
		if !strings.Contains(render, want) {
			t.Errorf("render lacks %q:\n%s", want, render)
		}
	}
	if strings.Contains(render, "Deployment") || strings.Contains(render, "ClusterRole") {
		t.Errorf("render prints an object that is never applied:\n%s", render)
	}
}
