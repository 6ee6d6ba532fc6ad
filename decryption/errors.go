package decryption

import "errors"

// Rules of the findings on encrypted objects and jobs.
const (
	// RuleDecryptionFailed: the object is encrypted but could not be
	// decrypted (no identity opens it, the MAC does not match, a value is
	// not the file's); it is never applied, nor are the jobs that read it.
	RuleDecryptionFailed = "decryption-failed"
	// RuleDecryptionNotConfigured: the object is encrypted but the
	// JobSource has no spec.decryption.
	RuleDecryptionNotConfigured = "decryption-not-configured"
	// RuleEncryptedMetadata: apiVersion, kind or metadata is encrypted;
	// sparkcd must read them to place the object (use
	// `--encrypted-regex '^(data|stringData)$'`).
	RuleEncryptedMetadata = "encrypted-metadata"
	// RuleEncryptedJob: a SparkJob is encrypted; a job must be reviewable
	// in the pull request, so it is never applied encrypted.
	RuleEncryptedJob = "encrypted-job"
)

// Placeholder replaces every encrypted value that is not decrypted, and
// every decrypted value in a review's output.
const Placeholder = "<sops-encrypted>"

// ProviderSOPS is the only decryption provider.
const ProviderSOPS = "sops"

// AgeKeySuffix ends the keys of a decryption Secret that hold age
// identities, as in Flux.
const AgeKeySuffix = ".agekey"

var (
	// ErrUnsupportedKey: the file's data key is encrypted only for key
	// types other than age (PGP, KMS, Vault…), which sparkcd does not
	// support.
	ErrUnsupportedKey = errors.New("key type not supported")
	// ErrNoIdentity: none of the decryption Secret's age identities opens
	// the file's data key.
	ErrNoIdentity = errors.New("no age identity opens the data key")
	// ErrMACMismatch: the file's values do not match its MAC: it was
	// changed after it was encrypted.
	ErrMACMismatch = errors.New("MAC mismatch")
	// ErrNoKeys: the decryption Secret holds no age identity.
	ErrNoKeys = errors.New("no age identity")
)
