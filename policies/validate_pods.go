package policies

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"
	psaapi "k8s.io/pod-security-admission/api"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// podSecurity checks spec.podSecurity: a level the API server knows, and
// "latest" or "v1.N".
func (v *validator) podSecurity(ps *v1alpha1.PodSecurityStandard) {
	if ps == nil {
		return
	}
	if _, err := psaapi.ParseLevel(ps.Level); err != nil {
		v.invalid("spec.podSecurity.level", "'%s' is not privileged, baseline or restricted", ps.Level)
	}
	if ps.Version != "" {
		if _, err := psaapi.ParseVersion(ps.Version); err != nil {
			v.invalid("spec.podSecurity.version", "'%s' is neither 'latest' nor 'v1.N'", ps.Version)
		}
	}
}

// podRules checks spec.rules.pods: each allowed registry is a registry
// name, optionally with a path ("ghcr.io/acme").
func (v *validator) podRules(r *v1alpha1.PodRules) {
	if r == nil {
		return
	}
	for i, a := range r.AllowedImageRegistries {
		field := fmt.Sprintf("spec.rules.pods.allowedImageRegistries[%d]", i)
		a = strings.TrimSuffix(a, "/")
		host, _, _ := strings.Cut(a, "/")
		switch {
		case a == "":
			v.invalid(field, "an empty registry allows nothing")
		case !strings.ContainsAny(host, ".:") && host != "localhost":
			v.invalid(field, "'%s' does not start with a registry host (such as 'ghcr.io' or 'docker.io/%s')", a, a)
		default:
			if _, err := reference.ParseNormalizedNamed(a + "/x"); err != nil {
				v.invalid(field, "'%s' is no registry or registry/path: %v", a, err)
			}
		}
	}
}
