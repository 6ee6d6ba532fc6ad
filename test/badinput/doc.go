// Package badinput holds sparkcd's bad-input suite: a corpus of invalid job
// files, kustomizations, policies and JobSource specs under testdata/, and
// the tests that feed each one to the parsers, the CLI and the source loop
// against a real API server and git server, asserting the exact error or
// finding and that nothing next to the bad input was lost. It also holds
// the test that credentials never leak into logs, events, status or
// errors. The package has no code of its own; see docs/reliability.md.
package badinput
