package reconciler

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// The Secrets a JobSource names (spec.secretRef, spec.verify.secretRef,
// spec.decryption.secretRef, spec.webhookSecretRef) are read one by one,
// by name, straight from the API server, and never cached. Whose identity
// reads them decides who grants them (docs/security.md):
//
//   - a source with a service account (spec.serviceAccountName, or serve
//     --default-source-service-account) reads them as that account, as it
//     writes: the tenant grants its own account "get" on the names in its
//     Role (deploy/components/source-identity), and sparkcd itself needs
//     no access to Secrets at all;
//   - a source without one reads them as sparkcd, which the install grants
//     per namespace and per name with a Role and RoleBinding
//     (deploy/components/source-secrets), never cluster-wide.
//
// Either way a JobSource can only make sparkcd use a Secret someone with
// RBAC rights in its namespace granted by name: creating a JobSource is
// not a way to send the namespace's other Secrets to a git server of
// one's choosing.

// ReasonSecretForbidden: the API server refused the get of a Secret the
// source names; the message names the Secret, the field, the identity
// that read it and the Role that would grant it. The other sources go on.
const ReasonSecretForbidden = "SecretForbidden"

// SecretForbiddenError is the API server's refusal to let a source's
// identity get one of the Secrets the source names.
type SecretForbiddenError struct {
	// Secret is the Secret refused.
	Secret types.NamespacedName
	// Field is the JobSource field naming it, such as "spec.secretRef".
	Field string
	// ServiceAccount is "<namespace>/<name>" when the source reads as its
	// own service account, empty when it reads as sparkcd.
	ServiceAccount string
	// Err is the API server's error; it names the user refused.
	Err error
}

func (e *SecretForbiddenError) Error() string {
	if e.ServiceAccount != "" {
		return fmt.Sprintf("service account '%s' may not get Secret '%s' of %s: add the rule "+
			"{apiGroups: [\"\"], resources: [\"secrets\"], resourceNames: [\"%s\"], verbs: [\"get\"]} "+
			"to its Role in namespace '%s' (deploy/components/source-identity): %v",
			e.ServiceAccount, e.Secret, e.Field, e.Secret.Name, e.Secret.Namespace, e.Err)
	}
	return fmt.Sprintf("sparkcd may not get Secret '%s' of %s: grant it "+
		"{apiGroups: [\"\"], resources: [\"secrets\"], resourceNames: [\"%s\"], verbs: [\"get\"]} "+
		"with a Role and RoleBinding in namespace '%s' (deploy/components/source-secrets): %v",
		e.Secret, e.Field, e.Secret.Name, e.Secret.Namespace, e.Err)
}

func (e *SecretForbiddenError) Unwrap() error { return e.Err }

// secretReader is the reader of src's Secrets and the account it reads
// as: the source's service account when it has one, else sparkcd's own
// uncached reader.
func (r *SourceReconciler) secretReader(src *v1alpha1.JobSource) (client.Reader, string, error) {
	var ids *identities
	if ic, ok := r.client.(*identityClient); ok {
		ids = ic.ids
	}
	return sourceSecretReader(r.apiReader, ids, r.opts.Identity, src)
}

func sourceSecretReader(own client.Reader, ids *identities, o IdentityOptions, src *v1alpha1.JobSource) (client.Reader, string, error) {
	name := src.Spec.ServiceAccountName
	if name == "" {
		name = o.DefaultServiceAccount
	}
	if name == "" || ids == nil {
		return own, "", nil
	}
	sa := serviceAccount{namespace: src.Namespace, name: name}
	c, err := ids.client(sa)
	return c, sa.String(), err
}

// getSecret reads the Secret name of src's field; a refusal is a
// SecretForbiddenError.
func (r *SourceReconciler) getSecret(ctx context.Context, src *v1alpha1.JobSource, name, field string) (*corev1.Secret, error) {
	reader, sa, err := r.secretReader(src)
	if err != nil {
		return nil, err
	}
	return getSourceSecret(ctx, reader, sa, types.NamespacedName{Namespace: src.Namespace, Name: name}, field)
}

func getSourceSecret(ctx context.Context, reader client.Reader, sa string, key types.NamespacedName, field string) (*corev1.Secret, error) {
	secret := &corev1.Secret{}
	err := reader.Get(ctx, key, secret)
	if apierrors.IsForbidden(err) {
		return nil, &SecretForbiddenError{Secret: key, Field: field, ServiceAccount: sa, Err: err}
	}
	return secret, err
}

// SourceSecrets reads the Secrets a JobSource names.
type SourceSecrets interface {
	// SourceSecret gets Secret name of src's field (such as
	// "spec.webhookSecretRef") in src's namespace, as the source's
	// identity; a refusal is a *SecretForbiddenError.
	SourceSecret(ctx context.Context, src *v1alpha1.JobSource, name, field string) (*corev1.Secret, error)
}

// SourceSecret implements SourceSecrets.
func (r *SourceReconciler) SourceSecret(ctx context.Context, src *v1alpha1.JobSource, name, field string) (*corev1.Secret, error) {
	return r.getSecret(ctx, src, name, field)
}

// secretFailure is the Ready reason of a failure to read a source's
// Secret: SecretForbidden when the API server refused it, else reason.
func secretFailure(err error, reason string) string {
	if sf := (*SecretForbiddenError)(nil); errors.As(err, &sf) {
		return ReasonSecretForbidden
	}
	return reason
}

var (
	_ error         = (*SecretForbiddenError)(nil)
	_ SourceSecrets = (*SourceReconciler)(nil)
)
