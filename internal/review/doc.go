// Package review runs the offline pipeline a pull request is reviewed with —
// build, policy defaults and rules, validation, resource envelope, and the
// objects a run would create — and writes its results for people (text,
// markdown) and for machines (json, GitHub annotations).
//
// It is the one place where render and policies meet, so that `sparkcd
// render`, `sparkcd check` and `sparkcd diff` judge a job exactly as the
// reconciler will.
package review
