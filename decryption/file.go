package decryption

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	"github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/config"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
)

// maxFileSize bounds the encrypted files read, as Flux does.
const maxFileSize = 5 << 20

// plaintexts maps each encrypted value of a file, as written ("ENC[…]"),
// to its plaintext.
type plaintexts map[string]any

// decryptFile decrypts an encrypted YAML file with sops, checks its MAC
// and returns the plaintext of each of its encrypted values. Errors never
// quote a value.
func decryptFile(data []byte, keys *Keys) (out plaintexts, err error) {
	defer func() {
		// Malformed input can make sops panic (Flux saw it): an error.
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("sops failed on the file: %v", r)
		}
	}()
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("the file has %d bytes, more than the %d an encrypted file may have", len(data), maxFileSize)
	}
	store := sopsyaml.NewStore(&config.YAMLStoreConfig{})
	tree, err := store.LoadEncryptedFile(data)
	if err != nil {
		return nil, fmt.Errorf("not a sops file: %s", firstLine(err))
	}
	if err := ageOnly(tree.Metadata); err != nil {
		return nil, err
	}
	ciphers := leaves(tree.Branches)
	key, err := tree.Metadata.GetDataKeyWithKeyServices(keys.clients(), []string{age.KeyTypeIdentifier})
	if err != nil {
		return nil, dataKeyError(err, tree.Metadata)
	}
	cipher := aes.NewCipher()
	mac, err := tree.Decrypt(key, cipher)
	if err != nil {
		return nil, fmt.Errorf("unable to decrypt the values: %s", firstLine(err))
	}
	want, err := cipher.Decrypt(tree.Metadata.MessageAuthenticationCode, key, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		return nil, fmt.Errorf("%w: the MAC cannot be decrypted", ErrMACMismatch)
	}
	if want != mac {
		return nil, fmt.Errorf("%w: the file was changed after it was encrypted", ErrMACMismatch)
	}
	plains := leaves(tree.Branches)
	if len(plains) != len(ciphers) {
		return nil, fmt.Errorf("sops changed the shape of the file")
	}
	out = plaintexts{}
	for i, c := range ciphers {
		if s, ok := c.(string); ok && isEncrypted(s) {
			out[s] = plains[i]
		}
	}
	return out, nil
}

// ageOnly refuses a file none of whose key groups holds an age key.
func ageOnly(md sops.Metadata) error {
	types := map[string]bool{}
	for _, g := range md.KeyGroups {
		for _, k := range g {
			if k.TypeToIdentifier() == age.KeyTypeIdentifier {
				return nil
			}
			types[k.TypeToIdentifier()] = true
		}
	}
	if len(types) == 0 {
		return fmt.Errorf("%w: the file names no key", ErrUnsupportedKey)
	}
	names := make([]string, 0, len(types))
	for t := range types {
		names = append(names, t)
	}
	sort.Strings(names)
	return fmt.Errorf("%w: the file is encrypted for %s only; sparkcd decrypts age keys only (re-encrypt with `sops --age`)",
		ErrUnsupportedKey, strings.Join(names, ", "))
}

// dataKeyError says which recipients the file is for, not sops' long
// report of every key it tried.
func dataKeyError(err error, md sops.Metadata) error {
	var recipients []string
	for _, g := range md.KeyGroups {
		for _, k := range g {
			if a, ok := k.(*age.MasterKey); ok {
				recipients = append(recipients, a.Recipient)
			}
		}
	}
	if errors.Is(err, ErrNoKeys) {
		return ErrNoKeys
	}
	return fmt.Errorf("%w: the file is encrypted for %s, and no identity of the decryption Secret is one of them",
		ErrNoIdentity, strings.Join(recipients, ", "))
}

// leaves lists the values of a sops tree in walk order, comments left
// out: the same walk before and after decryption pairs each ciphertext
// with its plaintext.
func leaves(branches sops.TreeBranches) []any {
	var out []any
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case sops.TreeBranch:
			for _, item := range v {
				if _, ok := item.Key.(sops.Comment); ok {
					continue
				}
				walk(item.Value)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		default:
			// A comment in a list counts too: sops may decrypt a string
			// into one.
			out = append(out, v)
		}
	}
	for _, b := range branches {
		walk(b)
	}
	return out
}

// isEncrypted tells a sops ciphertext.
func isEncrypted(s string) bool { return strings.HasPrefix(s, "ENC[AES256_GCM,") }

func firstLine(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}
