// Package runid owns the identity of a run: its name, Spark app id, the
// names of its objects, the spec hash it started with, the labels that tie a
// pod to its job and run, and reading that identity back from a driver pod.
//
// Both the job loop and the cleanup read runs through this package, so a run
// is named, recognised and ordered one way everywhere.
package runid
