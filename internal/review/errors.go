package review

import "errors"

var (
	// ErrBuild means the input could not be read or built; the CLI exits 2.
	ErrBuild = errors.New("input cannot be built")
	// ErrUnknownFormat is returned for an output format a command does not
	// support.
	ErrUnknownFormat = errors.New("unknown output format")
)
