package gitsource

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"golang.org/x/crypto/ssh"
)

// Key names of a verification Secret (or the files of `diff --keys`):
//   - "*.asc": ASCII-armored OpenPGP public keys (`gpg --armor --export`),
//     one or more key blocks per entry;
//   - "*.pub": SSH public keys in authorized_keys format, one per line
//     (`~/.ssh/id_ed25519.pub`);
//   - "allowed_signers" or "*.allowed_signers": git's gpg.ssh.allowedSignersFile
//     format, "principals [options] key-type key [comment]" per line.
//
// Other entries are ignored, so a Secret may carry a README.
const (
	keySuffixOpenPGP      = ".asc"
	keySuffixSSH          = ".pub"
	keyNameAllowedSigners = "allowed_signers"
)

const armoredPublicKeyBlock = "-----BEGIN PGP PUBLIC KEY BLOCK-----"

// KeyRing holds the public keys a commit may be signed with. It holds
// public keys only; still, nothing in it is ever logged.
type KeyRing struct {
	// openpgp holds one armored key block per entry, as go-git's
	// Commit.Verify reads a single block.
	openpgp []pgpBlock
	ssh     []ssh.PublicKey
}

// pgpBlock is one armored OpenPGP key block and the fingerprints and long
// key ids (upper-case hex) of its keys and subkeys, to tell a key that is
// not trusted from a trusted key's bad signature.
type pgpBlock struct {
	armored string
	ids     map[string]bool
}

// ParseKeys reads the trusted public keys from a Secret's data or a set of
// files, by their names (see the key names above). It fails, naming the
// entry, on a key that cannot be read, and with ErrNoVerificationKeys
// when no entry holds a key.
func ParseKeys(data map[string][]byte) (*KeyRing, error) {
	k := &KeyRing{}
	names := make([]string, 0, len(data))
	for name := range data {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		var err error
		switch {
		case strings.HasSuffix(name, keySuffixOpenPGP):
			err = k.addOpenPGP(data[name])
		case strings.HasSuffix(name, keySuffixSSH):
			err = k.addSSH(data[name], false)
		case name == keyNameAllowedSigners || strings.HasSuffix(name, "."+keyNameAllowedSigners):
			err = k.addSSH(data[name], true)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w: key '%s': %w", ErrInvalidVerificationKey, name, err)
		}
	}
	if k.Len() == 0 {
		return nil, fmt.Errorf("%w: no entry named '*%s' (OpenPGP), '*%s' (SSH) or '%s' among %d entries",
			ErrNoVerificationKeys, keySuffixOpenPGP, keySuffixSSH, keyNameAllowedSigners, len(data))
	}
	return k, nil
}

// ReadKeyFiles reads ParseKeys' input from files and directories: a
// directory contributes every regular file in it (not its
// subdirectories), each named by its base name.
func ReadKeyFiles(paths ...string) (*KeyRing, error) {
	data := map[string][]byte{}
	add := func(p string) error {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		// Two files of one name in two directories both count.
		name := filepath.Base(p)
		for i := 1; data[name] != nil; i++ {
			name = fmt.Sprintf("%d-%s", i, filepath.Base(p))
		}
		data[name] = b
		return nil
	}
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("unable to read keys: %w", err)
		}
		if !info.IsDir() {
			if err := add(p); err != nil {
				return nil, fmt.Errorf("unable to read keys: %w", err)
			}
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("unable to read keys: %w", err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() {
				if err := add(filepath.Join(p, e.Name())); err != nil {
					return nil, fmt.Errorf("unable to read keys: %w", err)
				}
			}
		}
	}
	k, err := ParseKeys(data)
	if err != nil {
		return nil, fmt.Errorf("in '%s': %w", strings.Join(paths, "', '"), err)
	}
	return k, nil
}

// Len is the number of trusted keys: OpenPGP key blocks and SSH keys.
func (k *KeyRing) Len() int {
	if k == nil {
		return 0
	}
	return len(k.openpgp) + len(k.ssh)
}

// addOpenPGP splits b into armored key blocks and checks each reads.
func (k *KeyRing) addOpenPGP(b []byte) error {
	text := string(b)
	n := 0
	for {
		i := strings.Index(text, armoredPublicKeyBlock)
		if i < 0 {
			break
		}
		text = text[i:]
		next := strings.Index(text[len(armoredPublicKeyBlock):], armoredPublicKeyBlock)
		block := text
		if next >= 0 {
			block, text = text[:len(armoredPublicKeyBlock)+next], text[len(armoredPublicKeyBlock)+next:]
		} else {
			text = ""
		}
		list, err := openpgp.ReadArmoredKeyRing(strings.NewReader(block))
		if err != nil {
			return fmt.Errorf("OpenPGP key block %d: %w", n+1, err)
		}
		ids := map[string]bool{}
		for _, e := range list {
			ids[fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)] = true
			ids[fmt.Sprintf("%016X", e.PrimaryKey.KeyId)] = true
			for _, sub := range e.Subkeys {
				ids[fmt.Sprintf("%X", sub.PublicKey.Fingerprint)] = true
				ids[fmt.Sprintf("%016X", sub.PublicKey.KeyId)] = true
			}
		}
		k.openpgp = append(k.openpgp, pgpBlock{armored: block, ids: ids})
		n++
	}
	if n == 0 {
		return fmt.Errorf("no '%s' in it", armoredPublicKeyBlock)
	}
	return nil
}

// addSSH reads authorized_keys lines, or allowed_signers lines whose
// first field, the principals, is dropped: trust comes from the key, not
// from the e-mail address a commit claims.
func (k *KeyRing) addSSH(b []byte, principals bool) error {
	n := 0
	for i, line := range bytes.Split(b, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		if principals {
			f := bytes.Fields(line)
			if len(f) < 3 {
				return fmt.Errorf("line %d: want 'principals [options] key-type key'", i+1)
			}
			line = bytes.TrimSpace(line[bytes.Index(line, f[0])+len(f[0]):])
		}
		pub, _, _, _, err := ssh.ParseAuthorizedKey(line)
		if err != nil {
			return fmt.Errorf("line %d: %w", i+1, err)
		}
		k.ssh = append(k.ssh, pub)
		n++
	}
	if n == 0 {
		return fmt.Errorf("no SSH public key in it")
	}
	return nil
}
