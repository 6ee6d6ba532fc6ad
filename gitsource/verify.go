package gitsource

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// VerifyMode says which commits must carry a trusted signature.
type VerifyMode string

const (
	// VerifyHEAD verifies the commit to be checked out.
	VerifyHEAD VerifyMode = "HEAD"
	// VerifyAllSinceLastApplied verifies that commit and every commit it
	// reaches that the last applied revision does not (git rev-list
	// LAST..TIP): after a force push, every new commit back to where the
	// old and new histories meet.
	VerifyAllSinceLastApplied VerifyMode = "all-since-last-applied"
)

// sshNamespace is the namespace git signs commits in with gpg.format=ssh.
const sshNamespace = "git"

// Verification says which keys a revision's commits must be signed with.
type Verification struct {
	// Keys are the trusted public keys; see ParseKeys.
	Keys *KeyRing
	// Mode is VerifyHEAD when empty.
	Mode VerifyMode
	// LastApplied is the revision applied before, "<ref>@sha1:<hex>" or
	// any revision git resolves. Empty (nothing applied yet) means only
	// the new tip is verified, whatever the mode. When it is set but no
	// longer in the repository, mode VerifyAllSinceLastApplied cannot tell
	// the new commits from the old and refuses the revision.
	LastApplied string
}

// SignedCommit is one verified commit and the key that signed it.
type SignedCommit struct {
	Hash plumbing.Hash
	// Signer is "OpenPGP key <fingerprint>" or "SSH key SHA256:…".
	Signer string
}

// VerificationError says which commit of a revision is not signed by a
// trusted key, who committed it and which key signed it. It wraps
// ErrVerificationFailed.
type VerificationError struct {
	// Revision is the revision that was to be checked out.
	Revision Revision
	// Commit is the commit that failed.
	Commit plumbing.Hash
	// Committer is "Name <email>" of that commit.
	Committer string
	// Signer is the key that signed it ("OpenPGP key …", "SSH key …"), or
	// "unsigned".
	Signer string
	// Reason says why the signature is not accepted.
	Reason string
}

// Error names the commit, the committer and the signing key.
func (e *VerificationError) Error() string {
	return fmt.Sprintf("%s: commit '%s' by '%s', %s: %s", ErrVerificationFailed, e.Commit, e.Committer, e.Signer, e.Reason)
}

// Unwrap returns ErrVerificationFailed.
func (e *VerificationError) Unwrap() error { return ErrVerificationFailed }

// verify checks the commits of rev that v asks for, tip first, and stops
// at the first that is not signed by a trusted key.
func verify(repo *git.Repository, rev Revision, v Verification) ([]SignedCommit, error) {
	if v.Keys.Len() == 0 {
		return nil, ErrNoVerificationKeys
	}
	tip, err := repo.CommitObject(rev.Hash)
	if err != nil {
		return nil, fmt.Errorf("unable to read commit '%s': %w", rev.Hash, err)
	}
	commits := []*object.Commit{tip}
	if v.Mode == VerifyAllSinceLastApplied && v.LastApplied != "" {
		since, err := commitsSince(repo, tip, v.LastApplied)
		if err != nil {
			return nil, &VerificationError{Revision: rev, Commit: tip.Hash, Committer: who(tip),
				Signer: describeSigner(tip), Reason: err.Error()}
		}
		commits = append(commits, since...)
	}
	out := make([]SignedCommit, 0, len(commits))
	for _, c := range commits {
		signer, reason := v.Keys.check(c)
		if reason != "" {
			return nil, &VerificationError{Revision: rev, Commit: c.Hash, Committer: who(c), Signer: signer, Reason: reason}
		}
		out = append(out, SignedCommit{Hash: c.Hash, Signer: signer})
	}
	return out, nil
}

// commitsSince returns the commits tip reaches and the last applied
// revision does not, tip excluded.
func commitsSince(repo *git.Repository, tip *object.Commit, last string) ([]*object.Commit, error) {
	lastHash, ok := lastAppliedHash(repo, last)
	if !ok {
		return nil, fmt.Errorf("the last applied revision '%s' is no longer in the repository (its history was rewritten, "+
			"by a force push?): mode %s cannot tell the new commits from the old, so the revision is refused; "+
			"review the history, then apply it once with mode %s", last, VerifyAllSinceLastApplied, VerifyHEAD)
	}
	if lastHash == tip.Hash {
		// The steady state of every poll: nothing new, no history walk.
		return nil, nil
	}
	old := map[plumbing.Hash]bool{}
	lastCommit, err := repo.CommitObject(lastHash)
	if err != nil {
		return nil, fmt.Errorf("unable to read the last applied commit '%s': %w", lastHash, err)
	}
	err = object.NewCommitPreorderIter(lastCommit, nil, nil).ForEach(func(c *object.Commit) error {
		old[c.Hash] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("unable to walk the history of '%s': %w", lastHash, err)
	}
	var out []*object.Commit
	err = object.NewCommitPreorderIter(tip, old, nil).ForEach(func(c *object.Commit) error {
		if c.Hash != tip.Hash {
			out = append(out, c)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("unable to walk the history of '%s': %w", tip.Hash, err)
	}
	return out, nil
}

// lastAppliedHash resolves "<ref>@sha1:<hex>", "sha1:<hex>" or any
// revision git understands to a commit the repository holds.
func lastAppliedHash(repo *git.Repository, last string) (plumbing.Hash, bool) {
	if i := strings.LastIndex(last, "sha1:"); i >= 0 && plumbing.IsHash(last[i+5:]) {
		h := plumbing.NewHash(last[i+5:])
		return h, hasCommit(repo, h)
	}
	h, err := repo.ResolveRevision(plumbing.Revision(last))
	if err != nil {
		return plumbing.ZeroHash, false
	}
	return *h, hasCommit(repo, *h)
}

func who(c *object.Commit) string {
	return fmt.Sprintf("%s <%s>", c.Committer.Name, c.Committer.Email)
}

// check returns the key that signed c, and why the signature is not
// accepted ("" when it is).
func (k *KeyRing) check(c *object.Commit) (signer, reason string) {
	sig := strings.TrimSpace(c.PGPSignature)
	switch {
	case sig == "":
		return "unsigned", "the commit carries no signature"
	case strings.HasPrefix(sig, "-----BEGIN SSH SIGNATURE-----"):
		return k.checkSSH(c)
	case strings.HasPrefix(sig, "-----BEGIN PGP SIGNATURE-----"):
		return k.checkOpenPGP(c)
	default:
		return "an unsupported signature", "only OpenPGP and SSH signatures are verified (not X.509)"
	}
}

func (k *KeyRing) checkOpenPGP(c *object.Commit) (signer, reason string) {
	id := openPGPIssuer(c.PGPSignature)
	signer = "OpenPGP key " + id
	var holder string
	for _, b := range k.openpgp {
		e, err := c.Verify(b.armored)
		if err == nil {
			return fmt.Sprintf("OpenPGP key %X", e.PrimaryKey.Fingerprint), ""
		}
		if errors.Is(err, object.ErrMultipleSignatures) {
			return signer, err.Error()
		}
		if b.ids[id] || (len(id) == 40 && b.ids[id[24:]]) {
			holder = b.armored
		}
	}
	if holder != "" {
		_, err := c.Verify(holder)
		return signer, fmt.Sprintf("the signature does not match the commit (a trusted key, but a bad signature): %v", err)
	}
	return signer, "the key is not among the trusted keys"
}

// openPGPIssuer reads the signing key's fingerprint, or its long key id,
// from an armored signature, without trusting it.
func openPGPIssuer(armored string) string {
	block, err := armor.Decode(strings.NewReader(armored))
	if err != nil {
		return "(unreadable signature)"
	}
	p, err := packet.Read(block.Body)
	if err != nil {
		return "(unreadable signature)"
	}
	sig, ok := p.(*packet.Signature)
	switch {
	case !ok:
		return "(unreadable signature)"
	case len(sig.IssuerFingerprint) > 0:
		return fmt.Sprintf("%X", sig.IssuerFingerprint)
	case sig.IssuerKeyId != nil:
		return fmt.Sprintf("%016X", *sig.IssuerKeyId)
	default:
		return "(no issuer)"
	}
}

func (k *KeyRing) checkSSH(c *object.Commit) (signer, reason string) {
	sig, err := sshsig.Unarmor([]byte(c.PGPSignature))
	if err != nil {
		return "an SSH signature", "the SSH signature cannot be read: " + err.Error()
	}
	fp := ssh.FingerprintSHA256(sig.PublicKey)
	signer = "SSH key " + fp
	payload, err := signedPayload(c)
	if err != nil {
		return signer, err.Error()
	}
	for _, pub := range k.ssh {
		if ssh.FingerprintSHA256(pub) != fp {
			continue
		}
		if err := sshsig.Verify(bytes.NewReader(payload), sig, pub, sig.HashAlgorithm, sshNamespace); err != nil {
			return signer, "the signature does not match the commit (a trusted key, but a bad signature): " + err.Error()
		}
		return signer, ""
	}
	return signer, "the key is not among the trusted keys"
}

// signedPayload is the commit without its gpgsig header: the bytes git
// signs, and the ones go-git's Commit.Verify checks OpenPGP signatures on.
func signedPayload(c *object.Commit) ([]byte, error) {
	o := &plumbing.MemoryObject{}
	if err := c.EncodeWithoutSignature(o); err != nil {
		return nil, fmt.Errorf("unable to encode commit '%s': %w", c.Hash, err)
	}
	r, err := o.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// describeSigner names the key that signed c, or "unsigned".
func describeSigner(c *object.Commit) string {
	sig := strings.TrimSpace(c.PGPSignature)
	switch {
	case sig == "":
		return "unsigned"
	case strings.HasPrefix(sig, "-----BEGIN SSH SIGNATURE-----"):
		if s, err := sshsig.Unarmor([]byte(sig)); err == nil {
			return "SSH key " + ssh.FingerprintSHA256(s.PublicKey)
		}
		return "an SSH signature"
	default:
		return "OpenPGP key " + openPGPIssuer(sig)
	}
}

// VerifyRevision verifies rev (a branch, tag, HEAD~n, or commit hash) of
// the repository holding repoDir as CheckoutVerified does, for offline
// review: in mode VerifyAllSinceLastApplied, v.LastApplied is the old
// revision of the review. The error is a *VerificationError when a commit
// fails.
func VerifyRevision(repoDir, rev string, v Verification) (Revision, []SignedCommit, error) {
	repo, err := git.PlainOpenWithOptions(repoDir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return Revision{}, nil, fmt.Errorf("unable to open git repository '%s': %w", repoDir, err)
	}
	hash, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return Revision{}, nil, fmt.Errorf("unable to resolve revision '%s' in '%s': %w", rev, repoDir, err)
	}
	r := Revision{Ref: rev, Hash: *hash}
	signed, err := verify(repo, r, v)
	return r, signed, err
}
