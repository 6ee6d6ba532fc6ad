package gitsource

import (
	"regexp"
	"strings"
)

// userinfoRE matches "scheme://userinfo@" wherever it appears in a text,
// so URLs inside error messages from go-git and net/http are caught too.
var userinfoRE = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)([^/?#\s@]+)@`)

// redactURL replaces the userinfo of every URL in s with "***". An SSH user
// name without a password (ssh://git@host) names no secret and is kept;
// over HTTP(S) a lone user name is often a token, so it goes too.
func redactURL(s string) string {
	return userinfoRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := userinfoRE.FindStringSubmatch(m)
		scheme, info := sub[1], sub[2]
		if !strings.Contains(info, ":") && !strings.HasPrefix(strings.ToLower(scheme), "http") {
			return m
		}
		return scheme + "***@"
	})
}

// redactedError carries the message of err with URLs and secret values
// scrubbed, and unwraps to err so errors.Is still sees causes such as
// context.DeadlineExceeded or transport.ErrAuthenticationRequired.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// minSecretLen keeps the scrubbing of secret values from mangling messages
// when a secret is so short that it matches ordinary words.
const minSecretLen = 4

// redact returns err with every URL's credentials and every given secret
// value removed from its message.
func redact(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := redactURL(err.Error())
	for _, s := range secrets {
		if len(s) >= minSecretLen {
			msg = strings.ReplaceAll(msg, s, "***")
		}
	}
	return &redactedError{msg: msg, err: err}
}
