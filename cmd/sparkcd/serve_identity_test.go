package main

import (
	"testing"

	"github.com/sparkcd/sparkcd/reconciler"
)

// TestServeIdentity: cross-namespace targets are allowed by default, for
// the installs that have them, and refused by default once a default
// source service account makes the install a multi-tenant one; the flag,
// or its environment variable, decides when given. A default account
// that cannot be a name is bad input.
func TestServeIdentity(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		want     reconciler.IdentityOptions
		wantCode int
	}{
		{name: "default", want: reconciler.IdentityOptions{}},
		{name: "refused", args: []string{"--allow-cross-namespace-targets=false"}, want: reconciler.IdentityOptions{NoCrossNamespaceTargets: true}},
		{name: "default account", args: []string{"--default-source-service-account", "tenant"},
			want: reconciler.IdentityOptions{DefaultServiceAccount: "tenant", NoCrossNamespaceTargets: true}},
		{name: "default account, allowed", args: []string{"--default-source-service-account", "tenant", "--allow-cross-namespace-targets"},
			want: reconciler.IdentityOptions{DefaultServiceAccount: "tenant"}},
		{name: "from the environment", env: map[string]string{"SPARKCD_DEFAULT_SOURCE_SERVICE_ACCOUNT": "tenant", "SPARKCD_ALLOW_CROSS_NAMESPACE_TARGETS": "true"},
			want: reconciler.IdentityOptions{DefaultServiceAccount: "tenant"}},
		{name: "bad name", args: []string{"--default-source-service-account", "Tenant!"}, wantCode: exitInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := completeServeFlags(t, tt.env, tt.args, tt.wantCode)
			if f == nil {
				return
			}
			if got := f.identity(); got != tt.want {
				t.Errorf("identity = %+v, want %+v", got, tt.want)
			}
		})
	}
}
