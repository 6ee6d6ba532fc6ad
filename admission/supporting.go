package admission

import (
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/decryption"
	"github.com/sparkcd/sparkcd/render/build"
)

// Rules of the findings on supporting objects: the objects beside the jobs
// of a path (ConfigMaps, Secrets…). See docs/supporting-objects.md.
const (
	// RuleKindNotAllowed: the object's kind is not one of the source's
	// supporting kinds; it is never applied.
	RuleKindNotAllowed = "kind-not-allowed"
	// RuleClusterScoped: the object's kind is cluster-scoped (Namespace,
	// ClusterRole, CustomResourceDefinition…); a JobSource never applies
	// one, whatever its supporting kinds say.
	RuleClusterScoped = "cluster-scoped"
	// RuleDuplicateObject: two objects of the path have the same kind,
	// namespace and name.
	RuleDuplicateObject = "duplicate-object"
	// RuleInvalidObject: the object cannot be what its kind says (a
	// Secret's data value that is not base64); the API server would
	// refuse it.
	RuleInvalidObject = "invalid-object"
	// RuleMissingReference: a job mounts or reads a ConfigMap or Secret
	// that the path does not hold (offline) or that neither the path nor
	// the cluster holds (the source loop). A warning: a controller such as
	// External Secrets may create it later, but the driver does not start
	// until it exists.
	RuleMissingReference = "missing-reference"
)

// ObjectVerdict is what admission says of one supporting object.
type ObjectVerdict struct {
	build.Object
	// Findings, errors first; an object with an error is never applied.
	Findings []v1alpha1.Finding
}

// Admitted reports whether the object may be applied.
func (v *ObjectVerdict) Admitted() bool { return !HasErrors(v.Findings) }

// ObjectOptions are what the verdict on a supporting object depends on.
type ObjectOptions struct {
	// Kinds are the kinds that may be applied; nil means
	// v1alpha1.DefaultSupportingKinds.
	Kinds []v1alpha1.SupportingKind
	// Targets, when not nil, are the namespaces objects may land in, as
	// for jobs.
	Targets []string
	// Namespaced, when set, tells whether a kind is namespaced as the
	// cluster knows it (known false when the cluster does not serve it);
	// without it, or for a kind it does not know, a built-in list of
	// cluster-scoped kinds decides.
	Namespaced func(schema.GroupKind) (namespaced, known bool)
	// Decryption, when set, is what decryption.Decrypt found in the same
	// build: its findings are the objects'.
	Decryption *decryption.Outcome
}

// Objects judges the supporting objects of a build, for `sparkcd check`,
// `render` and the source loop alike: the kind must be namespaced and
// allowed, the namespace one of the targets, the object unique.
func Objects(objs []build.Object, opts ObjectOptions) []ObjectVerdict {
	kinds := opts.Kinds
	if len(kinds) == 0 {
		kinds = v1alpha1.DefaultSupportingKinds()
	}
	out := make([]ObjectVerdict, 0, len(objs))
	seen := map[string]int{}
	for i, o := range objs {
		v := ObjectVerdict{Object: o}
		if opts.Decryption != nil {
			v.Findings = append(v.Findings, opts.Decryption.Objects[i]...)
		}
		switch {
		case clusterScoped(o.GroupKind, opts.Namespaced):
			// The build's default namespace means nothing here.
			if o.Object != nil {
				v.Namespace = o.Object.GetNamespace()
			}
			v.Findings = append(v.Findings, v1alpha1.Finding{Severity: v1alpha1.SeverityError, Rule: RuleClusterScoped, Field: "kind",
				Message: fmt.Sprintf("%s '%s' is cluster-scoped: a JobSource applies only namespaced objects, so it is never applied", kindName(o.GroupKind), o.Name)})
		case !allowedKind(o.GroupKind, kinds):
			v.Findings = append(v.Findings, v1alpha1.Finding{Severity: v1alpha1.SeverityError, Rule: RuleKindNotAllowed, Field: "kind",
				Message: fmt.Sprintf("%s '%s' is not one of the supporting kinds (%s), so it is never applied", kindName(o.GroupKind), o.Name, kindList(kinds))})
		default:
			v.Findings = append(v.Findings, targetFindings(o.Namespace, opts.Targets)...)
			v.Findings = append(v.Findings, base64Findings(o)...)
		}
		if o.Name == "" {
			v.Findings = append(v.Findings, v1alpha1.Finding{Severity: v1alpha1.SeverityError, Rule: build.RuleMissingName,
				Field: "metadata.name", Message: "'metadata.name' is required"})
		}
		key := o.Group + "/" + o.Kind + "/" + o.Namespace + "/" + o.Name
		if first, ok := seen[key]; ok && o.Name != "" {
			msg := fmt.Sprintf("%s '%s/%s' is also defined in '%s'", kindName(o.GroupKind), o.Namespace, o.Name, out[first].Origin.File)
			v.Findings = append(v.Findings, v1alpha1.Finding{Severity: v1alpha1.SeverityError, Rule: RuleDuplicateObject, Field: "metadata.name", Message: msg})
		} else {
			seen[key] = len(out)
		}
		sortFindings(v.Findings)
		out = append(out, v)
	}
	return out
}

// base64Findings refuses the values of a Secret's data and a ConfigMap's
// binaryData that are not base64, naming the key, never the value.
func base64Findings(o build.Object) []v1alpha1.Finding {
	field := map[schema.GroupKind]string{{Kind: "Secret"}: "data", {Kind: "ConfigMap"}: "binaryData"}[o.GroupKind]
	if field == "" || o.Object == nil {
		return nil
	}
	m, _ := o.Object.Object[field].(map[string]any)
	var out []v1alpha1.Finding
	for _, k := range slices.Sorted(maps.Keys(m)) {
		s, ok := m[k].(string)
		if s == decryption.Placeholder {
			// Encrypted, and not decrypted: a review without the keys.
			continue
		}
		if ok {
			_, err := base64.StdEncoding.DecodeString(s)
			ok = err == nil
		}
		if !ok {
			out = append(out, v1alpha1.Finding{Severity: v1alpha1.SeverityError, Rule: RuleInvalidObject, Field: field + "." + k,
				Message: fmt.Sprintf("%s '%s': the value of '%s.%s' is not base64 (use stringData for plain text)", kindName(o.GroupKind), o.Name, field, k)})
		}
	}
	return out
}

// clusterScopedKinds are the built-in and common cluster-scoped kinds, for
// a review without a cluster.
var clusterScopedKinds = map[schema.GroupKind]bool{
	{Kind: "Namespace"}: true, {Kind: "Node"}: true, {Kind: "PersistentVolume"}: true,
	{Kind: "ComponentStatus"}:                                                         true,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:                         true,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}:                  true,
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:                 true,
	{Group: "apiregistration.k8s.io", Kind: "APIService"}:                             true,
	{Group: "storage.k8s.io", Kind: "StorageClass"}:                                   true,
	{Group: "storage.k8s.io", Kind: "CSIDriver"}:                                      true,
	{Group: "storage.k8s.io", Kind: "VolumeAttachment"}:                               true,
	{Group: "scheduling.k8s.io", Kind: "PriorityClass"}:                               true,
	{Group: "node.k8s.io", Kind: "RuntimeClass"}:                                      true,
	{Group: "networking.k8s.io", Kind: "IngressClass"}:                                true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"}:   true,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration"}:     true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicy"}:        true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicyBinding"}: true,
	{Group: "certificates.k8s.io", Kind: "CertificateSigningRequest"}:                 true,
	{Group: "flowcontrol.apiserver.k8s.io", Kind: "FlowSchema"}:                       true,
	{Group: "flowcontrol.apiserver.k8s.io", Kind: "PriorityLevelConfiguration"}:       true,
	{Group: "sparkcd.io", Kind: "AllocationPolicy"}:                                   true,
}

func clusterScoped(gk schema.GroupKind, namespaced func(schema.GroupKind) (bool, bool)) bool {
	if namespaced != nil {
		if ns, known := namespaced(gk); known {
			return !ns
		}
	}
	return clusterScopedKinds[gk]
}

func allowedKind(gk schema.GroupKind, kinds []v1alpha1.SupportingKind) bool {
	return slices.ContainsFunc(kinds, func(k v1alpha1.SupportingKind) bool { return k.Group == gk.Group && k.Kind == gk.Kind })
}

// kindName is "Kind" for the core group and "Kind.group" otherwise.
func kindName(gk schema.GroupKind) string {
	return v1alpha1.SupportingKind{Group: gk.Group, Kind: gk.Kind}.String()
}

func kindList(kinds []v1alpha1.SupportingKind) string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.String()
	}
	return strings.Join(names, ", ")
}
