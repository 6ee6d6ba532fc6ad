// Package gitsource reads jobs repositories with go-git: it resolves
// revisions, names them "<ref>@sha1:<hex>" as Flux does, and writes a
// revision's tree to a directory for rendering.
package gitsource
