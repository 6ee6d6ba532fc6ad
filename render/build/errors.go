package build

import (
	"errors"
	"fmt"
)

// Sentinel errors of the build and decode steps. Test with errors.Is; the
// errors returned wrap them with the file and the reason.
var (
	// ErrOutsideRoot means a path resolves outside the repository root: a
	// "../" escape, an absolute path, or a symbolic link pointing out.
	ErrOutsideRoot = errors.New("outside the repository root")
	// ErrRemoteBase means a kustomization refers to a remote base or
	// resource (a git URL or an http(s) file) while remote bases are off.
	ErrRemoteBase = errors.New("remote bases are not allowed")
	// ErrReadOnly means kustomize tried to write to the repository.
	ErrReadOnly = errors.New("the repository is read-only")
	// ErrKustomize means kustomize could not build a unit; the wrapped
	// error says why.
	ErrKustomize = errors.New("kustomize build failed")
	// ErrMalformed means a file is not valid YAML or not a Kubernetes
	// object.
	ErrMalformed = errors.New("malformed YAML")
	// ErrNotFound means the path to build does not exist or a glob
	// matched nothing.
	ErrNotFound = errors.New("no such path")
	// ErrTooLarge means a file is larger than MaxFileBytes.
	ErrTooLarge = errors.New("file is too large")
	// ErrAliasBomb means a YAML file's aliases expand to far more nodes
	// than it holds, as a "billion laughs" document does.
	ErrAliasBomb = errors.New("excessive YAML aliasing")
)

// BuildError is the failure of one unit: the file that could not be read,
// resolved or built, and why. One failing unit never stops the others.
type BuildError struct {
	// Unit is the path that was built, relative to the repository root.
	Unit string
	// File is the file at fault, relative to the repository root: the
	// kustomization that refers to a forbidden path, the YAML that does
	// not parse, or the unit itself when nothing narrower is known.
	File string
	// Err says why.
	Err error
}

// Error names the file and the reason.
func (e *BuildError) Error() string {
	file := e.File
	if file == "" {
		file = e.Unit
	}
	if e.Unit != "" && e.Unit != file {
		return fmt.Sprintf("'%s' (building '%s'): %v", file, e.Unit, e.Err)
	}
	return fmt.Sprintf("'%s': %v", file, e.Err)
}

// Unwrap returns the cause, so errors.Is finds the sentinel errors.
func (e *BuildError) Unwrap() error { return e.Err }
