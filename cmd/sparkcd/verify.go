package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sparkcd/sparkcd/gitsource"
)

// verifyFlags are diff's flags for commit verification, the offline twin
// of a JobSource's spec.verify.
type verifyFlags struct {
	verify bool
	keys   []string
	mode   string
}

func (f *verifyFlags) bind(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.verify, "verify", false, "verify the signature of the --to commit (and, with --verify-mode all-since-last-applied, of every commit since --from) before diffing; exit 1 naming the commit when one is not signed by a key of --keys")
	cmd.Flags().StringSliceVar(&f.keys, "keys", nil, "trusted public keys for --verify: files or directories of '*.asc' (OpenPGP), '*.pub' (SSH) and 'allowed_signers' files, named as in a JobSource's spec.verify Secret")
	cmd.Flags().StringVar(&f.mode, "verify-mode", string(gitsource.VerifyHEAD), "HEAD (verify the --to commit) or all-since-last-applied (every commit in --from..--to as well)")
}

// run verifies the new revision of a diff; a commit that fails is a
// finding (exit 1), keys that cannot be read are bad input (exit 2).
func (f *verifyFlags) run(cmd *cobra.Command, root, from, to string) error {
	if !f.verify {
		if len(f.keys) > 0 {
			return inputError(errors.New("--keys is read only with --verify"))
		}
		return nil
	}
	if len(f.keys) == 0 {
		return inputError(errors.New("--verify needs --keys: the files or directories of the trusted public keys"))
	}
	v := gitsource.Verification{Mode: gitsource.VerifyMode(f.mode)}
	switch v.Mode {
	case gitsource.VerifyHEAD:
	case gitsource.VerifyAllSinceLastApplied:
		v.LastApplied = from
	default:
		return inputError(fmt.Errorf("--verify-mode '%s': want %s or %s", f.mode, gitsource.VerifyHEAD, gitsource.VerifyAllSinceLastApplied))
	}
	keys, err := gitsource.ReadKeyFiles(f.keys...)
	if err != nil {
		return inputError(err)
	}
	v.Keys = keys
	rev, signed, err := gitsource.VerifyRevision(root, to, v)
	if ve := (*gitsource.VerificationError)(nil); errors.As(err, &ve) {
		return findingsError(fmt.Errorf("revision '%s' is not verified: %w", to, err))
	}
	if err != nil {
		return inputError(err)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "verified %d %s of %s (%s): signed by %s\n",
		len(signed), plural(len(signed), "commit"), to, rev.Hash, signersOf(signed))
	return nil
}

// signersOf lists the distinct keys that signed the commits.
func signersOf(signed []gitsource.SignedCommit) string {
	seen := map[string]bool{}
	var out string
	for _, s := range signed {
		if !seen[s.Signer] {
			seen[s.Signer] = true
			if out != "" {
				out += ", "
			}
			out += s.Signer
		}
	}
	return out
}
