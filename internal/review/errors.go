package review

import (
	"errors"
	"fmt"
)

var (
	// ErrBuild means the input could not be read or built; the CLI exits 2.
	ErrBuild = errors.New("input cannot be built")
	// ErrUnknownFormat is returned for an output format a command does not
	// support.
	ErrUnknownFormat = errors.New("unknown output format")
	// ErrEmpty means the path built to no job and no supporting object: a
	// mistyped path in CI must not pass. The CLI exits 2 unless
	// --allow-empty.
	ErrEmpty = errors.New("path holds no SparkJob and no supporting object")
)

// EmptyError says which path held nothing and what it was (an empty
// directory, an empty file, files of no Kubernetes object…).
type EmptyError struct {
	Path   string
	Detail string
}

func (e *EmptyError) Error() string {
	return fmt.Sprintf("PATH '%s' holds no SparkJob and no supporting object (%s): check the path, or pass --allow-empty", e.Path, e.Detail)
}

// Unwrap makes errors.Is(err, ErrEmpty) hold.
func (e *EmptyError) Unwrap() error { return ErrEmpty }
