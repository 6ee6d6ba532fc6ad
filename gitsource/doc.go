// Package gitsource reads jobs repositories with go-git.
//
// A Client keeps one cache directory per source: a bare repository that is
// cloned once and then fetched incrementally, and the working tree of the
// last good revision, which is what the renderer reads. Revisions are named
// "<ref>@sha1:<hex>" as Flux names them. Authentication comes from a
// Secret's data (HTTPS basic or bearer token, SSH key with known_hosts);
// SSH host keys are always verified and TLS always checked unless the
// caller asks otherwise with an explicit insecure option. No error or log
// line carries a credential.
//
// Export, for offline review, writes one revision of a local repository to
// a directory.
package gitsource
