package gitsource

import (
	"fmt"
	"testing"

	"github.com/go-git/go-git/v5"

	"github.com/sparkcd/sparkcd/internal/gittest"
)

// BenchmarkVerify measures the verification of a revision in mode
// all-since-last-applied over 100 new commits, half signed with SSH by
// git and half with OpenPGP by go-git, and in mode HEAD (the tip only):
// the cost a verified source adds to a fetch.
func BenchmarkVerify(b *testing.B) {
	pgp, pgpPub := gittest.NewOpenPGPKey(b)
	sshFile, sshPub := gittest.NewSSHSigningKey(b)
	k, err := ParseKeys(map[string][]byte{"team.asc": pgpPub, "alice.pub": sshPub})
	if err != nil {
		b.Fatal(err)
	}
	u := gittest.NewRepo(b)
	base := u.CommitSSH(b, "base", sshFile)
	for i := range 100 {
		if i%2 == 0 {
			u.CommitSSH(b, fmt.Sprint(i), sshFile)
		} else {
			u.CommitOpenPGP(b, fmt.Sprint(i), pgp)
		}
	}
	repo, err := git.PlainOpen(u.Work)
	if err != nil {
		b.Fatal(err)
	}
	head, err := repo.Head()
	if err != nil {
		b.Fatal(err)
	}
	rev := Revision{Ref: "main", Hash: head.Hash()}
	for _, mode := range []VerifyMode{VerifyHEAD, VerifyAllSinceLastApplied} {
		b.Run(string(mode), func(b *testing.B) {
			v := Verification{Keys: k, Mode: mode, LastApplied: "main@sha1:" + base}
			for b.Loop() {
				signed, err := verify(repo, rev, v)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(len(signed)), "commits/op")
			}
		})
	}
}
