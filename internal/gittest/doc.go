// Package gittest runs real git servers on loopback for tests: a bare
// repository with a work clone that tests commit and push from, served
// over HTTP(S) by the real "git http-backend" behind net/http/cgi and over
// SSH by the real "git upload-pack" behind golang.org/x/crypto/ssh. Every
// test that talks to git uses it, so there is one implementation.
//
// The git binary is required: a test that cannot find it fails and says
// how to install it, it never skips.
package gittest
