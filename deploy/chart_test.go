package deploy_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// The chart under test, and the values that switch every option on.
const (
	chartDir    = "chart"
	allOnValues = "testdata/chart/all-on.yaml"
)

// helmVersion is the helm CLI `make helm` builds (hack/build-helm.sh).
const helmVersion = "v4.3.2"

// helmBinary returns the helm CLI: $SPARKCD_HELM, or where `make helm`
// builds it. helm is built from its own module, never a dependency of
// sparkcd's; without it the chart tests fail and say how to get it.
func helmBinary(t testing.TB) string {
	t.Helper()
	path := os.Getenv("SPARKCD_HELM")
	if path == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatal(err)
		}
		path = filepath.Join(home, ".cache", "sparkcd", "tools", "helm-"+helmVersion, "helm")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the helm CLI is missing (%v): run `make helm` (hack/build-helm.sh builds helm %s into ~/.cache/sparkcd/tools), or set SPARKCD_HELM to a helm binary", err, helmVersion)
	}
	return path
}

// runHelm runs helm with its caches and configuration in a temporary
// directory, returning its standard output, or its error with standard
// error.
func runHelm(t testing.TB, args ...string) (string, error) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.CommandContext(context.Background(), helmBinary(t), args...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), errors.New("helm " + strings.Join(args, " ") + ": " + err.Error() + "\n" + stderr.String())
	}
	return stdout.String(), nil
}

// valuesFile writes inline values to a file for helm's -f.
func valuesFile(t testing.TB, values string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(path, []byte(values), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// renderChart runs `helm template sparkcd chart -n ns` with the values
// files and inline values given (later ones win) and decodes its objects.
func renderChart(t testing.TB, ns string, files []string, values string) []*unstructured.Unstructured {
	t.Helper()
	args := []string{"template", "sparkcd", chartDir, "--namespace", ns}
	for _, f := range files {
		args = append(args, "--values", f)
	}
	if values != "" {
		args = append(args, "--values", valuesFile(t, values))
	}
	out, err := runHelm(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return decodeManifests(t, out)
}

// decodeManifests decodes a stream of YAML documents, skipping the empty
// ones (helm's "# Source:" comments of a template that rendered nothing).
func decodeManifests(t testing.TB, manifests string) []*unstructured.Unstructured {
	t.Helper()
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifests)))
	var objs []*unstructured.Unstructured
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			t.Fatalf("decoding a rendered object: %v\n%s", err, doc)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// TestChartLint lints the chart with its defaults and with every option
// switched on, as `helm lint --strict` in CI would.
func TestChartLint(t *testing.T) {
	for name, args := range map[string][]string{
		"defaults": nil,
		"all-on":   {"--values", allOnValues},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := runHelm(t, append([]string{"lint", "--strict", chartDir}, args...)...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

// TestChartTemplate renders the chart with its defaults and with every
// option on: each object decodes strictly into its Go type (a misspelled
// field is an error), and every option renders what it should.
func TestChartTemplate(t *testing.T) {
	defaults := renderChart(t, "sparkcd-system", nil, "")
	allOn := renderChart(t, "sparkcd-system", []string{allOnValues}, "")
	for name, objs := range map[string][]*unstructured.Unstructured{"defaults": defaults, "all-on": allOn} {
		for _, u := range objs {
			if u.GroupVersionKind().Group == "monitoring.coreos.com" {
				continue // not in the scheme; TestChartApply has the API server validate it
			}
			typed(t, u)
		}
		if len(objs) == 0 {
			t.Errorf("%s: helm template rendered nothing", name)
		}
	}
	var got []string
	for _, u := range allOn {
		got = append(got, describeChart(u))
	}
	for _, want := range []string{
		"CronJob sparkcd-system/sparkcd-cleanup",
		"Ingress sparkcd-system/sparkcd-webhook",
		"ServiceMonitor sparkcd-system/sparkcd",
		"Namespace sparkcd-system",
		"Role spark-dev/spark-driver",
		"RoleBinding team-a/sparkcd-source",
		"RoleBinding spark-dev/sparkcd-supporting-objects",
		"Role team-b/sparkcd-source",
		"Role spark-dev/sparkcd-source-secrets",
		"ClusterRole sparkcd-view",
		"ClusterRole sparkcd-edit",
		"AllocationPolicy all",
		"ConfigMap sparkcd-system/sparkcd-policies",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("all-on values: no %s in %v", want, got)
		}
	}
	dep := decodeAs[*appsv1.Deployment](t, allOn, "Deployment", "sparkcd")
	if img := dep.Spec.Template.Spec.Containers[0].Image; !strings.Contains(img, "@sha256:") {
		t.Errorf("image = %q, want the digest of image.digest", img)
	}
}

// describeChart names an object as describe does, without the hash.
func describeChart(u *unstructured.Unstructured) string {
	name := u.GetName()
	if ns := u.GetNamespace(); ns != "" {
		name = ns + "/" + name
	}
	return u.GetKind() + " " + name
}

// TestChartValuesRefused: the schema and the templates refuse values that
// would install something else than asked, naming the value.
func TestChartValuesRefused(t *testing.T) {
	for _, tc := range []struct {
		name, values, want string
	}{
		{"misspelled value", "replica: 3", "replica"},
		{"cleanup setting in config", "config: {SPARKCD_CLEANUP_SCHEDULE: ''}", "SPARKCD_CLEANUP_SCHEDULE"},
		{"not a setting", "config: {LOG_LEVEL: debug}", "LOG_LEVEL"},
		{"policy file name", "policies: {prod: 'kind: AllocationPolicy'}", "prod"},
		{"selector alone", "cleanup: {selector: spark-role=driver}", "cleanup.selectorNamespaces"},
		{"digest", "image: {digest: latest}", "digest"},
		{"not a policy", "policies: {a.yaml: 'kind: ConfigMap'}", "policies.a.yaml"},
		{"no Secret names", "components: {sourceSecrets: {namespaces: [spark-dev], secretNames: []}}", "spark-dev lists no secretNames"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runHelm(t, "template", "sparkcd", chartDir, "--values", valuesFile(t, tc.values))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("helm template with %q: error %v, want one naming %q", tc.values, err, tc.want)
			}
		})
	}
}

// TestChartApply server-side applies what the chart renders with every
// option on to the real API server, in dry-run (the cluster-scoped
// objects are deploy/default's, which the other tests run with): the API
// server validates every object, its schema and admission included.
func TestChartApply(t *testing.T) {
	e := installed(t)
	release, a, b := e.Namespace(t), e.Namespace(t), e.Namespace(t)
	objs := renderChart(t, release, []string{allOnValues}, `
components:
  sparkNamespace: {namespaces: [`+a+`, `+b+`]}
  sourceIdentity: {namespaces: [`+a+`, {name: `+b+`, secretNames: [b-git]}]}
  sourceSecrets: {namespaces: [`+b+`]}
  supportingObjects: {namespaces: [`+a+`, `+b+`]}
cleanup: {selectorNamespaces: [`+a+`]}
`)
	apply(t, e, promOperatorCRDs(t))
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	for _, u := range objs {
		err := e.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()),
			client.FieldOwner(fieldOwner), client.ForceOwnership, client.DryRunAll)
		if err != nil {
			t.Errorf("server-side apply (dry run) %s: %v", describeChart(u), err)
		}
	}
}

// TestChartSwitchesOff: the values that leave a part out leave it out,
// and nothing else.
func TestChartSwitchesOff(t *testing.T) {
	all := map[string]bool{}
	for _, u := range renderChart(t, "sparkcd-system", nil, "cleanup: {cronJob: {enabled: true}}") {
		all[describeChart(u)] = true
	}
	for _, tc := range []struct {
		values string
		gone   []string
	}{
		{"crds: {install: false}", []string{
			"CustomResourceDefinition sparkjobs.sparkcd.io", "CustomResourceDefinition jobsources.sparkcd.io",
			"CustomResourceDefinition allocationpolicies.sparkcd.io"}},
		{"rbac: {create: false}", []string{
			"ClusterRole sparkcd", "ClusterRoleBinding sparkcd", "Role sparkcd-system/sparkcd-leader-election",
			"RoleBinding sparkcd-system/sparkcd-leader-election", "ClusterRole sparkcd-cleanup", "ClusterRoleBinding sparkcd-cleanup"}},
		{"rbac: {aggregatedRoles: false}", []string{"ClusterRole sparkcd-view", "ClusterRole sparkcd-edit"}},
		{"serviceAccount: {create: false}", []string{
			"ServiceAccount sparkcd-system/sparkcd", "ServiceAccount sparkcd-system/sparkcd-cleanup"}},
		{"podDisruptionBudget: {enabled: false}", []string{"PodDisruptionBudget sparkcd-system/sparkcd"}},
	} {
		t.Run(tc.values, func(t *testing.T) {
			got := map[string]bool{}
			for _, u := range renderChart(t, "sparkcd-system", nil, "cleanup: {cronJob: {enabled: true}}\n"+tc.values) {
				got[describeChart(u)] = true
			}
			want := map[string]bool{}
			for k := range all {
				if !slices.Contains(tc.gone, k) {
					want[k] = true
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
		})
	}
}

// TestChartRollsOnChange: a change of the settings or the policy files
// changes the Deployment's pod template (its checksum annotations), as
// kustomize's hashed ConfigMap names do; a change of neither does not,
// nor one of the cluster AllocationPolicies, which sparkcd follows live.
func TestChartRollsOnChange(t *testing.T) {
	const files = "policyFiles: {a.yaml: 'kind: AllocationPolicy', b.yaml: 'kind: AllocationPolicy'}\n"
	annotations := func(t *testing.T, values string) map[string]string {
		dep := decodeAs[*appsv1.Deployment](t, renderChart(t, "sparkcd-system", nil, files+values), "Deployment", "sparkcd")
		return dep.Spec.Template.Annotations
	}
	base := annotations(t, "")
	for _, tc := range []struct {
		values  string
		changed []string
	}{
		{"config: {SPARKCD_LOG_LEVEL: debug}", []string{"checksum/config"}},
		{"cleanup: {succeededTTL: 1h}", []string{"checksum/config"}},
		{"cleanup: {cronJob: {enabled: true}}", []string{"checksum/config"}},
		{"policyFiles: {b.yaml: null}", []string{"checksum/policies"}},
		{"policies: {all.yaml: '{apiVersion: sparkcd.io/v1alpha1, kind: AllocationPolicy, metadata: {name: all}}'}", nil},
		{"replicas: 3", nil},
	} {
		t.Run(tc.values, func(t *testing.T) {
			got := annotations(t, tc.values)
			for _, k := range []string{"checksum/config", "checksum/policies"} {
				if base[k] == "" {
					t.Fatalf("no %s annotation on the pod template", k)
				}
				if changed := got[k] != base[k]; changed != slices.Contains(tc.changed, k) {
					t.Errorf("%s changed: %t, want %t", k, changed, !changed)
				}
			}
		})
	}
}
