package deploy_test

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
)

// image is the image every build runs, pinned by deploy/default.
const image = "ghcr.io/sparkcd/sparkcd:v0.1.0"

// hashSuffix is the content hash kustomize appends to a generated name.
var hashSuffix = regexp.MustCompile(`-[a-z0-9]{10}$`)

// TestKustomizationsBuild builds every kustomization under deploy/ and
// compares what it holds; a new kustomization needs an entry here.
func TestKustomizationsBuild(t *testing.T) {
	sparkcd := []string{
		"ClusterRole sparkcd",
		"ClusterRoleBinding sparkcd",
		"ClusterRole sparkcd-edit",
		"ClusterRole sparkcd-view",
		"ConfigMap sparkcd-system/sparkcd-config-<hash>",
		"Deployment sparkcd-system/sparkcd",
		"Namespace sparkcd-system",
		"PodDisruptionBudget sparkcd-system/sparkcd",
		"Role sparkcd-system/sparkcd-leader-election",
		"RoleBinding sparkcd-system/sparkcd-leader-election",
		"Service sparkcd-system/sparkcd",
		"ServiceAccount sparkcd-system/sparkcd",
	}
	crds := []string{
		"CustomResourceDefinition allocationpolicies.sparkcd.io",
		"CustomResourceDefinition jobsources.sparkcd.io",
		"CustomResourceDefinition sparkjobs.sparkcd.io",
	}
	sparkNamespace := []string{
		"Namespace spark-dev",
		"Role spark-dev/spark-driver",
		"RoleBinding spark-dev/spark-driver",
		"Role spark-dev/sparkcd-source-secrets",
		"RoleBinding spark-dev/sparkcd-source-secrets",
		"ServiceAccount spark-dev/spark",
	}
	want := map[string][]string{
		"base":    sparkcd,
		"crds":    crds,
		"default": concat(crds, sparkcd),
		"cleanup-cronjob": concat(crds, sparkcd, []string{
			"ClusterRole sparkcd-cleanup",
			"ClusterRoleBinding sparkcd-cleanup",
			"CronJob sparkcd-system/sparkcd-cleanup",
			"ServiceAccount sparkcd-system/sparkcd-cleanup",
		}),
		"base/config": {
			"ConfigMap sparkcd-system/sparkcd-config-<hash>",
		},
		"examples/webhook-ingress": {"Ingress sparkcd-system/sparkcd-webhook"},
		"examples/policies": {
			"AllocationPolicy all",
			"AllocationPolicy dev",
			"AllocationPolicy prod",
		},
		"examples":                 concat(sparkNamespace, []string{"JobSource spark-dev/examples"}),
		"examples/spark-namespace": sparkNamespace,
	}
	dirs := kustomizations(t, ".")
	for _, dir := range dirs {
		if _, ok := want[dir]; !ok {
			t.Errorf("kustomization '%s' has no entry in TestKustomizationsBuild", dir)
		}
	}
	for dir, objs := range want {
		t.Run(dir, func(t *testing.T) {
			if !slices.Contains(dirs, dir) {
				t.Fatalf("no kustomization in '%s'", dir)
			}
			var got []string
			for _, u := range build(t, dir) {
				got = append(got, describe(u))
			}
			sort.Strings(got)
			w := append([]string(nil), objs...)
			sort.Strings(w)
			if diff := cmp.Diff(w, got); diff != "" {
				t.Errorf("kustomize build '%s' (-want +got):\n%s", dir, diff)
			}
		})
	}
}

func describe(u *unstructured.Unstructured) string {
	name := u.GetName()
	if u.GetKind() == "ConfigMap" {
		name = hashSuffix.ReplaceAllString(name, "-<hash>")
	}
	if ns := u.GetNamespace(); ns != "" {
		name = ns + "/" + name
	}
	return u.GetKind() + " " + name
}

func concat(lists ...[]string) []string {
	var all []string
	for _, l := range lists {
		all = append(all, l...)
	}
	return all
}

// TestDeployment checks what the platform team relies on: two replicas
// electing a leader, probes on the health port, bounded resources, the
// restricted security context, and configuration that references the
// generated ConfigMaps.
func TestDeployment(t *testing.T) {
	for _, dir := range []string{"default", "cleanup-cronjob"} {
		t.Run(dir, func(t *testing.T) {
			objs := build(t, dir)
			dep := decodeAs[*appsv1.Deployment](t, objs, "Deployment", "sparkcd")
			checkDeploymentPods(t, dep)
			pod := &dep.Spec.Template
			c := container(t, &pod.Spec, "sparkcd")
			checkServeContainer(t, c)
			checkServeConfig(t, objs, pod, c)
			checkServeReachable(t, objs, pod)
		})
	}
}

// checkDeploymentPods: two replicas spread across nodes, selected by the
// Deployment, running as sparkcd with the restricted pod security.
func checkDeploymentPods(t *testing.T, dep *appsv1.Deployment) {
	t.Helper()
	if r := dep.Spec.Replicas; r == nil || *r != 2 {
		t.Errorf("replicas = %v, want 2", r)
	}
	pod := dep.Spec.Template
	sel := labels.SelectorFromSet(dep.Spec.Selector.MatchLabels)
	if !sel.Matches(labels.Set(pod.Labels)) {
		t.Errorf("the Deployment's selector %s does not match its pods' labels %v", sel, pod.Labels)
	}
	if pod.Spec.ServiceAccountName != "sparkcd" {
		t.Errorf("serviceAccountName = %q, want sparkcd", pod.Spec.ServiceAccountName)
	}
	checkPodSecurity(t, &pod.Spec)
	if len(pod.Spec.TopologySpreadConstraints) == 0 && (pod.Spec.Affinity == nil || pod.Spec.Affinity.PodAntiAffinity == nil) {
		t.Error("the replicas are not spread across nodes")
	}
	for _, c := range pod.Spec.TopologySpreadConstraints {
		if !labels.SelectorFromSet(c.LabelSelector.MatchLabels).Matches(labels.Set(pod.Labels)) {
			t.Errorf("topology spread on %s does not select sparkcd's pods", c.TopologyKey)
		}
	}
}

// checkServeContainer: the image, serve's arguments, its ports and probes,
// bounded resources and the restricted security context.
func checkServeContainer(t *testing.T, c *corev1.Container) {
	t.Helper()
	if c.Image != image {
		t.Errorf("image = %q, want %q", c.Image, image)
	}
	wantArgs := []string{"serve", "--leader-elect", "--health-addr=:8081", "--metrics-addr=:8080",
		"--webhook-addr=:9292", "--cache-dir=/var/cache/sparkcd"}
	if diff := cmp.Diff(wantArgs, c.Args); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if diff := cmp.Diff(map[string]int32{"metrics": 8080, "healthz": 8081, "webhook": 9292}, ports); diff != "" {
		t.Errorf("ports (-want +got):\n%s", diff)
	}
	for name, probe := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		path := map[string]string{"liveness": "/healthz", "readiness": "/readyz"}[name]
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != path || probe.HTTPGet.Port.String() != "healthz" {
			t.Errorf("%s probe = %+v, want GET %s on the healthz port", name, probe, path)
		}
	}
	checkResources(t, c)
	checkContainerSecurity(t, c)
}

// checkServeConfig: the namespace from the downward API, settings from the
// generated ConfigMap, and writable
// cache and tmp directories.
func checkServeConfig(t *testing.T, objs []*unstructured.Unstructured, pod *corev1.PodTemplateSpec, c *corev1.Container) {
	t.Helper()
	env := map[string]corev1.EnvVar{}
	for _, v := range c.Env {
		env[v.Name] = v
	}
	if ns := env["POD_NAMESPACE"].ValueFrom; ns == nil || ns.FieldRef == nil || ns.FieldRef.FieldPath != "metadata.namespace" {
		t.Errorf("POD_NAMESPACE = %+v, want the downward API's metadata.namespace", env["POD_NAMESPACE"])
	}
	config := find(t, objs, "ConfigMap", "sparkcd-config-*")
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[0].ConfigMapRef.Name != config.GetName() {
		t.Errorf("envFrom = %+v, want the ConfigMap '%s'", c.EnvFrom, config.GetName())
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		volumes[v.Name] = v
	}
	for path, check := range map[string]func(corev1.Volume) bool{
		"/var/cache/sparkcd": func(v corev1.Volume) bool { return v.EmptyDir != nil },
		"/tmp":               func(v corev1.Volume) bool { return v.EmptyDir != nil },
	} {
		if v, ok := volumes[mounts[path]]; !ok || !check(v) {
			t.Errorf("%s is mounted from %+v", path, v)
		}
	}
}

// checkServeReachable: a PodDisruptionBudget keeping one replica, and a
// Service for the webhook and the metrics, both selecting sparkcd's pods.
func checkServeReachable(t *testing.T, objs []*unstructured.Unstructured, pod *corev1.PodTemplateSpec) {
	t.Helper()
	pdb := decodeAs[*policyv1.PodDisruptionBudget](t, objs, "PodDisruptionBudget", "sparkcd")
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudget minAvailable = %v, want 1", pdb.Spec.MinAvailable)
	}
	if s := labels.SelectorFromSet(pdb.Spec.Selector.MatchLabels); !s.Matches(labels.Set(pod.Labels)) {
		t.Errorf("the PodDisruptionBudget's selector %s does not match sparkcd's pods", s)
	}
	svc := decodeAs[*corev1.Service](t, objs, "Service", "sparkcd")
	if s := labels.SelectorFromSet(svc.Spec.Selector); !s.Matches(labels.Set(pod.Labels)) {
		t.Errorf("the Service's selector %s does not match sparkcd's pods", s)
	}
	svcPorts := map[string]string{}
	for _, p := range svc.Spec.Ports {
		svcPorts[p.Name] = p.TargetPort.String()
	}
	if diff := cmp.Diff(map[string]string{"webhook": "webhook", "metrics": "metrics"}, svcPorts); diff != "" {
		t.Errorf("Service ports (-want +got):\n%s", diff)
	}
}

// TestCleanupCronJob checks the CronJob alternative: its own service
// account, the same hardening and settings as the Deployment, and the
// in-process cleanup turned off so drivers are not cleaned up twice.
func TestCleanupCronJob(t *testing.T) {
	objs := build(t, "cleanup-cronjob")
	cj := decodeAs[*batchv1.CronJob](t, objs, "CronJob", "sparkcd-cleanup")
	if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("concurrencyPolicy = %q, want Forbid", cj.Spec.ConcurrencyPolicy)
	}
	spec := &cj.Spec.JobTemplate.Spec.Template.Spec
	if spec.ServiceAccountName != "sparkcd-cleanup" {
		t.Errorf("serviceAccountName = %q, want sparkcd-cleanup", spec.ServiceAccountName)
	}
	checkPodSecurity(t, spec)
	c := container(t, spec, "cleanup")
	if c.Image != image {
		t.Errorf("image = %q, want %q", c.Image, image)
	}
	if diff := cmp.Diff([]string{"cleanup", "--once"}, c.Args); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
	checkResources(t, c)
	checkContainerSecurity(t, c)
	config := decodeAs[*corev1.ConfigMap](t, objs, "ConfigMap", "sparkcd-config-*")
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[0].ConfigMapRef.Name != config.Name {
		t.Errorf("envFrom = %+v, want the ConfigMap '%s'", c.EnvFrom, config.Name)
	}
	if v, ok := config.Data["SPARKCD_CLEANUP_SCHEDULE"]; !ok || v != "" {
		t.Errorf("SPARKCD_CLEANUP_SCHEDULE = %q (set %t), want set and empty", v, ok)
	}
	if v := config.Data["SPARKCD_SUCCEEDED_TTL"]; v != "24h" {
		t.Errorf("SPARKCD_SUCCEEDED_TTL = %q, want the base's 24h kept", v)
	}
}

// TestConfig checks the settings ConfigMap.
func TestConfig(t *testing.T) {
	objs := build(t, "default")
	config := decodeAs[*corev1.ConfigMap](t, objs, "ConfigMap", "sparkcd-config-*")
	want := map[string]string{
		"SPARKCD_LOG_FORMAT":       "json",
		"SPARKCD_LOG_LEVEL":        "info",
		"SPARKCD_CLEANUP_SCHEDULE": "*/10 * * * *",
		"SPARKCD_SUCCEEDED_TTL":    "24h",
		"SPARKCD_FAILED_TTL":       "72h",
	}
	if diff := cmp.Diff(want, config.Data); diff != "" {
		t.Errorf("sparkcd-config (-want +got):\n%s", diff)
	}
	for k := range config.Data {
		if !strings.HasPrefix(k, "SPARKCD_") {
			t.Errorf("key %q is not a SPARKCD_ setting", k)
		}
	}

}

func container(t *testing.T, spec *corev1.PodSpec, name string) *corev1.Container {
	t.Helper()
	for i := range spec.Containers {
		if spec.Containers[i].Name == name {
			return &spec.Containers[i]
		}
	}
	t.Fatalf("no container %q", name)
	return nil
}

// checkPodSecurity asserts the pod-level half of the restricted Pod
// Security Standard.
func checkPodSecurity(t *testing.T, spec *corev1.PodSpec) {
	t.Helper()
	sc := spec.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Error("the pod does not set runAsNonRoot")
	}
	if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 65532 {
		t.Error("the pod does not run as the image's user 65532")
	}
	if sc == nil || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("the pod's seccomp profile is not RuntimeDefault")
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		t.Error("the pod shares a host namespace")
	}
}

// checkContainerSecurity asserts the container-level half.
func checkContainerSecurity(t *testing.T, c *corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil {
		t.Fatalf("container %q has no securityContext", c.Name)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("container %q allows privilege escalation", c.Name)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("container %q has a writable root file system", c.Name)
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Errorf("container %q is privileged", c.Name)
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
		t.Errorf("container %q capabilities = %+v, want drop ALL, add none", c.Name, sc.Capabilities)
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("container %q seccomp profile is not RuntimeDefault", c.Name)
	}
}

// checkResources asserts requests and limits for CPU and memory, requests
// within limits.
func checkResources(t *testing.T, c *corev1.Container) {
	t.Helper()
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[r]
		lim, okLim := c.Resources.Limits[r]
		if !okReq || !okLim {
			t.Errorf("container %q: %s request %v, limit %v: want both", c.Name, r, c.Resources.Requests, c.Resources.Limits)
			continue
		}
		if req.Cmp(lim) > 0 {
			t.Errorf("container %q: %s request %s above its limit %s", c.Name, r, req.String(), lim.String())
		}
	}
}
