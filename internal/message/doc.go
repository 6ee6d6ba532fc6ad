// Package message shortens the messages people read — findings, errors,
// condition messages, table cells — when a bound on their length is
// needed: whole clauses first, then whole words, never a bracket or a
// quote left open, and always a visible "…" where text was left out.
package message
