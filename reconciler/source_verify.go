package reconciler

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/gitsource"
)

// verification reads the trusted keys of spec.verify from its Secret, one
// get straight from the API server as for spec.secretRef (as the
// source's identity); nil when the
// source verifies nothing. The keys are parsed on every reconcile, so a
// key added to or removed from the Secret counts at the next poll. An
// error names the Secret, never a key's content.
func (r *SourceReconciler) verification(ctx context.Context, src *v1alpha1.JobSource) (*gitsource.Verification, error) {
	spec := src.Spec.Verify
	if spec == nil {
		return nil, nil
	}
	key := types.NamespacedName{Namespace: src.Namespace, Name: spec.SecretRef.Name}
	secret, err := r.getSecret(ctx, src, key.Name, "spec.verify.secretRef")
	if err != nil {
		if sf := (*SecretForbiddenError)(nil); errors.As(err, &sf) {
			return nil, err
		}
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%w: Secret '%s' of spec.verify.secretRef does not exist, so no revision can be verified",
				ErrSecretNotFound, key)
		}
		return nil, fmt.Errorf("unable to get Secret '%s' of spec.verify.secretRef: %w", key, err)
	}
	keys, err := gitsource.ParseKeys(secret.Data)
	if err != nil {
		return nil, fmt.Errorf("unable to read the keys of Secret '%s' of spec.verify.secretRef: %w", key, err)
	}
	mode := gitsource.VerifyHEAD
	if spec.Mode == v1alpha1.VerifyModeAllSinceLastApplied {
		mode = gitsource.VerifyAllSinceLastApplied
	}
	// status.lastAppliedRevision, not memory: the commits since it are
	// verified after a restart, or on another replica, as well.
	return &gitsource.Verification{Keys: keys, Mode: mode, LastApplied: src.Status.LastAppliedRevision}, nil
}

// checkout checks out the source's ref, verified when v is set.
func (r *SourceReconciler) checkout(ctx context.Context, st *sourceState, src *v1alpha1.JobSource, v *gitsource.Verification) (gitsource.Snapshot, error) {
	if v == nil {
		return st.git.Checkout(ctx, gitRef(src.Spec.Ref))
	}
	return st.git.CheckoutVerified(ctx, gitRef(src.Spec.Ref), *v)
}

// refuse notes a revision spec.verify refused: it is the attempted
// revision, and only a later revision (or other keys) can change that.
func (sc *sourceReconciliation) refuse(ve *gitsource.VerificationError) {
	sc.revision = ve.Revision.String()
	sc.src.Status.LastAttemptedRevision = sc.revision
	sc.verifyFailed = fmt.Sprintf("revision %s refused: %s", sc.revision, ve.Error())
}
