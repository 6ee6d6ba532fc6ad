package admission

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/build"
)

func object(group, kind, ns, name string) build.Object {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: group, Version: "v1", Kind: kind})
	u.SetName(name)
	return build.Object{Object: u, GroupKind: schema.GroupKind{Group: group, Kind: kind}, Name: name, Namespace: ns,
		Origin: build.Origin{File: "jobs/support.yaml"}}
}

func rules(vs []ObjectVerdict) []string {
	var out []string
	for _, v := range vs {
		r := v.Kind + " " + v.Namespace + "/" + v.Name
		for _, f := range v.Findings {
			r += " " + f.Rule
		}
		out = append(out, r)
	}
	return out
}

func TestObjects(t *testing.T) {
	objs := []build.Object{
		object("", "ConfigMap", "a", "conf"),
		object("", "ConfigMap", "a", "conf"),
		object("", "Secret", "b", "creds"),
		object("apps", "Deployment", "a", "web"),
		object("rbac.authorization.k8s.io", "ClusterRole", "a", "all"),
		object("example.com", "Widget", "a", "w"),
		object("", "ServiceAccount", "a", ""),
	}
	tests := []struct {
		name string
		opts ObjectOptions
		want []string
	}{
		{name: "defaults, no targets", want: []string{
			"ConfigMap a/conf", "ConfigMap a/conf duplicate-object", "Secret b/creds", "Deployment a/web kind-not-allowed",
			"ClusterRole /all cluster-scoped", "Widget a/w kind-not-allowed", "ServiceAccount a/ missing-name",
		}},
		{name: "targets", opts: ObjectOptions{Targets: []string{"a"}}, want: []string{
			"ConfigMap a/conf", "ConfigMap a/conf duplicate-object", "Secret b/creds target-namespace", "Deployment a/web kind-not-allowed",
			"ClusterRole /all cluster-scoped", "Widget a/w kind-not-allowed", "ServiceAccount a/ missing-name",
		}},
		{name: "allowed list; the cluster says Widget is cluster-scoped", opts: ObjectOptions{
			Kinds: []v1alpha1.SupportingKind{{Kind: "ConfigMap"}, {Group: "example.com", Kind: "Widget"}, {Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}},
			Namespaced: func(gk schema.GroupKind) (bool, bool) {
				return gk.Kind != "Widget", gk.Group == "example.com"
			},
		}, want: []string{
			"ConfigMap a/conf", "ConfigMap a/conf duplicate-object", "Secret b/creds kind-not-allowed", "Deployment a/web kind-not-allowed",
			"ClusterRole /all cluster-scoped", "Widget /w cluster-scoped", "ServiceAccount a/ kind-not-allowed missing-name",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, rules(Objects(objs, tt.opts))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestObjectsBase64: a Secret's data value that is not base64 is refused
// by key, and its value is never quoted.
func TestObjectsBase64(t *testing.T) {
	o := object("", "Secret", "a", "creds")
	o.Object.Object["data"] = map[string]any{"ok": "aGk=", "bad": "pl41n-s3cret!"}
	vs := Objects([]build.Object{o}, ObjectOptions{})
	if len(vs[0].Findings) != 1 || vs[0].Findings[0].Field != "data.bad" || strings.Contains(vs[0].Findings[0].Message, "s3cret") {
		t.Errorf("findings %+v", vs[0].Findings)
	}
}

func TestMissingReferences(t *testing.T) {
	yes := true
	job := &v1alpha1.SparkJob{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "pi"}}
	job.Spec.ImagePullSecrets = []string{"registry"}
	job.Spec.Volumes = []corev1.Volume{
		{Name: "c", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "conf"}}}},
		{Name: "o", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "maybe", Optional: &yes}}},
		{Name: "p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "proj"}}}}}}},
	}
	job.Spec.Driver.Secrets = []v1alpha1.SecretInfo{{Name: "creds", Path: "/c"}}
	job.Spec.Executor.EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "conf"}}}}
	objs := Objects([]build.Object{object("", "ConfigMap", "a", "conf"), object("", "Secret", "b", "creds")}, ObjectOptions{})

	fields := func(fs []v1alpha1.Finding) []string {
		var out []string
		for _, f := range fs {
			out = append(out, string(f.Severity)+" "+f.Rule+" "+f.Field)
		}
		return out
	}
	offline, err := MissingReferences(job, objs, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"warning missing-reference spec.imagePullSecrets[0]",
		"warning missing-reference spec.volumes[2].projected.sources[0].secret.name",
		"warning missing-reference spec.driver.secrets[0].name",
	}
	if diff := cmp.Diff(want, fields(offline)); diff != "" {
		t.Errorf("offline (-want +got):\n%s", diff)
	}
	inCluster, err := MissingReferences(job, objs, func(kind, ns, name string) (bool, error) { return name == "registry", nil })
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want[1:], fields(inCluster)); diff != "" {
		t.Errorf("with the cluster (-want +got):\n%s", diff)
	}
}
