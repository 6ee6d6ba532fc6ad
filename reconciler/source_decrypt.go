package reconciler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/decryption"
	"github.com/sparkcd/sparkcd/render/build"
)

// SOPS-encrypted objects: the source loop decrypts them in memory between
// the build and admission (package decryption) with the age identities of
// spec.decryption.secretRef. The keys and the plaintext live only in this
// process's memory, for one source: never in the environment, a file, a
// log, an event or the status. See docs/secrets.md.

// decryptionOptions reads the keys of spec.decryption, straight from the
// API server, and a version that changes when they do (for the render
// cache). A Secret that is missing, forbidden or holds no age identity
// fails each encrypted object with a finding, never the source: the
// objects and jobs that need no decryption go on. Another API error is
// transient.
func (r *SourceReconciler) decryptionOptions(ctx context.Context, src *v1alpha1.JobSource) (decryption.Options, string, error) {
	d := src.Spec.Decryption
	if d == nil {
		return decryption.Options{Required: true}, "", nil
	}
	fail := func(err error) (decryption.Options, string, error) {
		return decryption.Options{Required: true, KeysErr: err}, "error: " + err.Error(), nil
	}
	if d.Provider != decryption.ProviderSOPS {
		return fail(fmt.Errorf("spec.decryption.provider '%s' is not supported (only '%s')", d.Provider, decryption.ProviderSOPS))
	}
	if d.SecretRef == nil || d.SecretRef.Name == "" {
		return fail(fmt.Errorf("spec.decryption.secretRef names no Secret"))
	}
	key := types.NamespacedName{Namespace: src.Namespace, Name: d.SecretRef.Name}
	secret, err := r.getSecret(ctx, src, key.Name, "spec.decryption.secretRef")
	if err != nil {
		switch {
		case apierrors.IsNotFound(err):
			return fail(fmt.Errorf("Secret '%s' of spec.decryption.secretRef does not exist", key))
		case errors.As(err, new(*SecretForbiddenError)):
			return fail(err)
		}
		return decryption.Options{}, "", fmt.Errorf("unable to get Secret '%s': %w", key, err)
	}
	keys, err := decryption.KeysFromData(secret.Data)
	if err != nil {
		return fail(fmt.Errorf("Secret '%s' of spec.decryption.secretRef: %w", key, err))
	}
	keys.Version = string(secret.UID) + "/" + secret.ResourceVersion
	return decryption.Options{Required: true, Keys: keys}, keys.Version, nil
}

// decrypt runs decryption on a build, before admission judges it.
func (r *SourceReconciler) decrypt(dir string, res *build.BuildResult, opts decryption.Options, rs *renderedSource) {
	rs.decryption = decryption.Decrypt(dir, res, opts)
	for i, f := range rs.decryption.Objects {
		if len(f) > 0 {
			o := &res.Objects[i]
			rs.undecrypted = append(rs.undecrypted, v1alpha1.SupportingRef{Group: o.Group, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name})
		}
	}
}

// keepUndecrypted keeps in the inventory the objects applied before that
// fail to decrypt now: the live object stays as it was (the jobs that
// read it are held back) instead of being pruned.
func (sc *sourceReconciliation) keepUndecrypted(rs *renderedSource) {
	for _, ref := range rs.undecrypted {
		for _, have := range sc.base.Status.SupportingInventory {
			if have == ref {
				sc.keepObject(ref)
			}
		}
	}
}

// decryptionNote names, for the Ready condition, the files whose objects
// could not be decrypted: "; not decrypted: 'jobs/creds.yaml:1'
// (decryption-failed)". The jobs held back because of them are in
// status.jobs.
func decryptionNote(jobs []v1alpha1.JobFindings) string {
	var files []string
	for _, j := range jobs {
		for _, f := range j.Findings {
			switch f.Rule {
			case decryption.RuleDecryptionFailed, decryption.RuleDecryptionNotConfigured, decryption.RuleEncryptedMetadata, decryption.RuleEncryptedJob:
			default:
				continue
			}
			if strings.HasPrefix(f.Field, "spec.") || j.Source == "" {
				// A job that reads such an object, not the object.
				continue
			}
			if s := fmt.Sprintf("'%s' (%s)", j.Source, f.Rule); !slices.Contains(files, s) {
				files = append(files, s)
			}
		}
	}
	switch {
	case len(files) == 0:
		return ""
	case len(files) > 3:
		files = append(files[:3], fmt.Sprintf("%d more", len(files)-3))
	}
	return "; not decrypted: " + strings.Join(files, ", ")
}
