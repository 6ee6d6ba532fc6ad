package cleanup

import "errors"

// ErrInvalidOptions is wrapped by the errors of Options that cannot work,
// such as a negative TTL.
var ErrInvalidOptions = errors.New("invalid cleanup options")
