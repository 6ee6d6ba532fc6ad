// Package sopstest encrypts files with sops' own library and generated
// age identities, for the tests of the packages that decrypt them. It is
// imported by tests only.
package sopstest

import (
	"testing"
	"time"

	"filippo.io/age"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/pgp"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
)

// Identity is a generated age identity.
type Identity struct {
	// Secret is the identity, "AGE-SECRET-KEY-1…": what a decryption
	// Secret's ".agekey" holds.
	Secret string
	// Recipient is its public key, "age1…".
	Recipient string
}

// NewIdentity generates an age X25519 identity.
func NewIdentity(t testing.TB) Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatalf("age: %v", err)
	}
	return Identity{Secret: id.String(), Recipient: id.Recipient().String()}
}

// Options of Encrypt.
type Options struct {
	// EncryptedRegex selects the keys to encrypt, as `sops
	// --encrypted-regex`; "" means "^(data|stringData)$", what
	// docs/secrets.md tells users.
	EncryptedRegex string
	// PGPFingerprint, when set, encrypts the data key for this PGP key
	// only (with no age recipient): a file sparkcd cannot open.
	PGPFingerprint string
}

// Encrypt encrypts a YAML file for the recipients as `sops --encrypt
// --age` does.
func Encrypt(t testing.TB, plain []byte, opts Options, recipients ...Identity) []byte {
	t.Helper()
	store := sopsyaml.NewStore(&config.YAMLStoreConfig{})
	branches, err := store.LoadPlainFile(plain)
	if err != nil {
		t.Fatalf("sops: load: %v", err)
	}
	var group sops.KeyGroup
	for _, r := range recipients {
		mk, err := sopsage.MasterKeyFromRecipient(r.Recipient)
		if err != nil {
			t.Fatalf("sops: recipient: %v", err)
		}
		group = append(group, mk)
	}
	regex := opts.EncryptedRegex
	if regex == "" {
		regex = "^(data|stringData)$"
	}
	tree := sops.Tree{Branches: branches, Metadata: sops.Metadata{
		KeyGroups: []sops.KeyGroup{group}, EncryptedRegex: regex, Version: "3.13.3",
	}}
	var dataKey []byte
	if opts.PGPFingerprint != "" {
		dataKey = make([]byte, 32)
		pk := pgp.NewMasterKeyFromFingerprint(opts.PGPFingerprint)
		pk.SetEncryptedDataKey([]byte("-----BEGIN PGP MESSAGE-----\n\nnot a message\n-----END PGP MESSAGE-----\n"))
		tree.Metadata.KeyGroups = []sops.KeyGroup{{pk}}
	} else {
		var errs []error
		if dataKey, errs = tree.GenerateDataKey(); len(errs) > 0 {
			t.Fatalf("sops: data key: %v", errs)
		}
	}
	// What sops' cmd/sops/common.EncryptTree does.
	cipher := aes.NewCipher()
	mac, err := tree.Encrypt(dataKey, cipher)
	if err != nil {
		t.Fatalf("sops: encrypt: %v", err)
	}
	tree.Metadata.LastModified = time.Now().UTC()
	if tree.Metadata.MessageAuthenticationCode, err = cipher.Encrypt(mac, dataKey, tree.Metadata.LastModified.Format(time.RFC3339)); err != nil {
		t.Fatalf("sops: encrypt the MAC: %v", err)
	}
	out, err := store.EmitEncryptedFile(tree)
	if err != nil {
		t.Fatalf("sops: emit: %v", err)
	}
	return out
}
