package reconciler

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// TestSecretForbiddenError: a refused Secret names itself, the field, the
// identity refused and the exact rule to add where, and stays a Forbidden
// for callers that only ask apierrors; other errors keep their reason.
func TestSecretForbiddenError(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "jobs-git", errors.New(`User "u" cannot get resource "secrets"`))
	key := types.NamespacedName{Namespace: "team-a", Name: "jobs-git"}
	tests := []struct {
		name string
		err  *SecretForbiddenError
		want []string
	}{
		{name: "as sparkcd", err: &SecretForbiddenError{Secret: key, Field: "spec.secretRef", Err: forbidden},
			want: []string{"sparkcd may not get Secret 'team-a/jobs-git' of spec.secretRef",
				`{apiGroups: [""], resources: ["secrets"], resourceNames: ["jobs-git"], verbs: ["get"]}`,
				"in namespace 'team-a' (deploy/components/source-secrets)", `User "u"`}},
		{name: "as the source's account", err: &SecretForbiddenError{Secret: key, Field: "spec.verify.secretRef", ServiceAccount: "team-a/sparkcd-source", Err: forbidden},
			want: []string{"service account 'team-a/sparkcd-source' may not get Secret 'team-a/jobs-git' of spec.verify.secretRef",
				`resourceNames: ["jobs-git"]`, "to its Role in namespace 'team-a' (deploy/components/source-identity)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := tt.err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not say %q", msg, w)
				}
			}
			wrapped := fmt.Errorf("fetch: %w", tt.err)
			if !apierrors.IsForbidden(wrapped) {
				t.Error("not a Forbidden to apierrors")
			}
			if got := secretFailure(wrapped, ReasonAuthenticationFailed); got != ReasonSecretForbidden {
				t.Errorf("reason = %s, want %s", got, ReasonSecretForbidden)
			}
		})
	}
	if got := secretFailure(errors.New("timeout"), ReasonAuthenticationFailed); got != ReasonAuthenticationFailed {
		t.Errorf("reason of another error = %s, want %s", got, ReasonAuthenticationFailed)
	}
}
