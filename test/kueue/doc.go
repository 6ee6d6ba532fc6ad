// Package kueue tests sparkcd's Kueue integration (docs/queueing-kueue.md)
// against the real parts: kube-apiserver, etcd, the garbage collector,
// kube-scheduler binding pods to KWOK nodes of fixed capacity, and Kueue's
// own controller manager with its webhooks (internal/testenv.WithKueue).
// BenchmarkKueueAdmission (make bench) times Kueue's admission of queued
// runs to their drivers' release.
package kueue
