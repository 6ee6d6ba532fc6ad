package decryption

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/keyservice"
	"github.com/getsops/sops/v3/logging"
)

func init() {
	// sops logs through logrus to stderr; nothing of it is for sparkcd's
	// users, and none of it may reach a log. 0 is logrus' panic level.
	logging.SetLevel(0)
}

// Keys are the age identities of one JobSource, parsed and held in
// memory. They never go into the process environment or a file: sops
// reads SOPS_AGE_KEY and ~/.config/sops/age only when a master key has no
// identities, and the key service here never lets that happen.
type Keys struct {
	ids age.ParsedIdentities
	// Version tells two sets of keys apart without their values (the
	// Secret's resourceVersion), for caches.
	Version string
}

// Len is the number of identities.
func (k *Keys) Len() int {
	if k == nil {
		return 0
	}
	return len(k.ids)
}

// String never shows the identities.
func (k *Keys) String() string { return fmt.Sprintf("%d age identities", k.Len()) }

// KeysFromData parses the age identities of a decryption Secret's data:
// every key ending in ".agekey" (other keys are ignored, as in Flux). The
// error names the key, never its value.
func KeysFromData(data map[string][]byte) (*Keys, error) {
	k := &Keys{}
	names := make([]string, 0, len(data))
	for name := range data {
		if strings.HasSuffix(name, AgeKeySuffix) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		// A plugin identity makes age run an age-plugin-* program when a
		// file is decrypted: whoever writes the Secret must not choose
		// what sparkcd executes.
		for _, line := range strings.Split(string(data[name]), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "AGE-PLUGIN-") {
				return nil, fmt.Errorf("'%s' holds an age plugin identity: only X25519 and post-quantum identities (AGE-SECRET-KEY-…) are supported", name)
			}
		}
		if err := k.ids.Import(string(data[name])); err != nil {
			return nil, fmt.Errorf("unable to parse the age identities of '%s': %s", name, scrub(err))
		}
	}
	if len(k.ids) == 0 {
		return nil, fmt.Errorf("%w: no key ending in '%s'", ErrNoKeys, AgeKeySuffix)
	}
	return k, nil
}

// KeysFromDir reads the age identities of the files ending in ".agekey"
// in dir, for `sparkcd check --decryption-keys`.
func KeysFromDir(dir string) (*Keys, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("unable to read the decryption keys: %w", err)
	}
	data := map[string][]byte{}
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), AgeKeySuffix) {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, fmt.Errorf("unable to read the decryption keys: %w", err)
			}
			data[e.Name()] = b
		}
	}
	k, err := KeysFromData(data)
	if err != nil {
		return nil, fmt.Errorf("'%s': %w", dir, err)
	}
	return k, nil
}

// scrub keeps an identity parser's error from quoting what it parsed.
func scrub(err error) string {
	msg := err.Error()
	if strings.Contains(strings.ToUpper(msg), "AGE-SECRET-KEY") {
		return "malformed identity"
	}
	return msg
}

// ageService is the only key service sops is given: it opens age data
// keys with the source's identities and refuses every other key type,
// so that sops never falls back to the environment, the home directory,
// a cloud metadata server or a GnuPG agent.
type ageService struct{ ids age.ParsedIdentities }

var _ keyservice.KeyServiceServer = ageService{}

// Encrypt is never needed: sparkcd only decrypts.
func (ageService) Encrypt(context.Context, *keyservice.EncryptRequest) (*keyservice.EncryptResponse, error) {
	return nil, fmt.Errorf("%w: sparkcd does not encrypt", ErrUnsupportedKey)
}

// Decrypt opens an age data key.
func (s ageService) Decrypt(_ context.Context, req *keyservice.DecryptRequest) (*keyservice.DecryptResponse, error) {
	k, ok := req.GetKey().GetKeyType().(*keyservice.Key_AgeKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnsupportedKey, keyTypeName(req.GetKey()))
	}
	if len(s.ids) == 0 {
		return nil, ErrNoKeys
	}
	mk := &age.MasterKey{Recipient: k.AgeKey.GetRecipient(), EncryptedKey: string(req.GetCiphertext())}
	s.ids.ApplyToMasterKey(mk)
	plain, err := mk.Decrypt()
	if err != nil {
		return nil, fmt.Errorf("%w (recipient %s)", ErrNoIdentity, k.AgeKey.GetRecipient())
	}
	return &keyservice.DecryptResponse{Plaintext: plain}, nil
}

func keyTypeName(k *keyservice.Key) string {
	switch k.GetKeyType().(type) {
	case *keyservice.Key_PgpKey:
		return "pgp"
	case *keyservice.Key_KmsKey:
		return "kms"
	case *keyservice.Key_GcpKmsKey:
		return "gcp_kms"
	case *keyservice.Key_AzureKeyvaultKey:
		return "azure_kv"
	case *keyservice.Key_VaultKey:
		return "hc_vault"
	case *keyservice.Key_HckmsKey:
		return "hckms"
	}
	return "unknown"
}

// clients is the key service sops asks, over these keys.
func (k *Keys) clients() []keyservice.KeyServiceClient {
	var ids age.ParsedIdentities
	if k != nil {
		ids = slices.Clone(k.ids)
	}
	return []keyservice.KeyServiceClient{keyservice.NewCustomLocalClient(ageService{ids: ids})}
}
