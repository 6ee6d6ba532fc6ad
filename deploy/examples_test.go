package deploy_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/policies"
)

// TestExamplePolicies: deploy/default ships no AllocationPolicy and runs
// serve without --policies, so nothing is defaulted or refused until the
// platform team says so; the example policies (spot and on-demand node
// labels, spark-dev and spark-prod) live in deploy/examples/policies,
// load as files as `sparkcd check --policies` and serve --policies load
// them, and are accepted by the API server as cluster objects.
func TestExamplePolicies(t *testing.T) {
	objs := build(t, "default")
	for _, u := range objs {
		if u.GetKind() == "AllocationPolicy" || u.GetKind() == "ConfigMap" && strings.HasPrefix(u.GetName(), "sparkcd-policies") {
			t.Errorf("deploy/default ships %s '%s'", u.GetKind(), u.GetName())
		}
	}
	dep := decodeAs[*appsv1.Deployment](t, objs, "Deployment", "sparkcd")
	for _, a := range container(t, &dep.Spec.Template.Spec, "sparkcd").Args {
		if strings.HasPrefix(a, "--policies") {
			t.Errorf("deploy/default runs serve with %s", a)
		}
	}

	list, err := policies.Load("examples/policies")
	if err != nil {
		t.Fatalf("the example policies do not load: %v", err)
	}
	var names []string
	for _, p := range list {
		names = append(names, p.Name)
	}
	if diff := cmp.Diff([]string{"all", "dev", "prod"}, names); diff != "" {
		t.Errorf("policies (-want +got):\n%s", diff)
	}
	if _, err := policies.NewSet(list); err != nil {
		t.Errorf("the example policies do not form a set: %v", err)
	}
	dryRun(t, installed(t), build(t, "examples/policies"))
}

// TestWebhookIngressExample: the example Ingress routes only /hooks/ to
// the webhook port of sparkcd's Service, over TLS for its one host, and
// the API server accepts it.
func TestWebhookIngressExample(t *testing.T) {
	objs := build(t, "examples/webhook-ingress")
	ing := decodeAs[*networkingv1.Ingress](t, objs, "Ingress", "sparkcd-webhook")
	if ing.Namespace != "sparkcd-system" {
		t.Errorf("namespace = %q, want sparkcd-system", ing.Namespace)
	}
	if len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].HTTP == nil || len(ing.Spec.Rules[0].HTTP.Paths) != 1 {
		t.Fatalf("rules = %+v, want one host with one path", ing.Spec.Rules)
	}
	rule := ing.Spec.Rules[0]
	if len(ing.Spec.TLS) != 1 || !slices.Equal(ing.Spec.TLS[0].Hosts, []string{rule.Host}) || ing.Spec.TLS[0].SecretName == "" {
		t.Errorf("tls = %+v, want the host %q with a certificate Secret", ing.Spec.TLS, rule.Host)
	}
	path := rule.HTTP.Paths[0]
	if path.Path != "/hooks/" || path.PathType == nil || *path.PathType != networkingv1.PathTypePrefix {
		t.Errorf("path = %s %v, want Prefix /hooks/ (the receiver's routes, nothing else)", path.Path, path.PathType)
	}
	backend := path.Backend.Service
	svc := decodeAs[*corev1.Service](t, build(t, "default"), "Service", "sparkcd")
	if backend == nil || backend.Name != svc.Name || !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool {
		return p.Name == backend.Port.Name && p.Name == "webhook"
	}) {
		t.Errorf("backend = %+v, want the Service '%s' port 'webhook'", backend, svc.Name)
	}
	dryRun(t, installed(t), objs)
}

// dryRun server-side applies objs with dryRun=All: the API server
// validates them (schema, CRD validation, admission) and stores nothing.
func dryRun(t *testing.T, e *testenv.Env, objs []*unstructured.Unstructured) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for _, u := range objs {
		if err := e.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()),
			client.FieldOwner(fieldOwner), client.ForceOwnership, client.DryRunAll); err != nil {
			t.Errorf("server-side apply --dry-run=server %s '%s': %v", u.GetKind(), u.GetName(), err)
		}
	}
}
