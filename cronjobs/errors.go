package cronjobs

import "errors"

var (
	// ErrInvalidSchedule is wrapped by the errors of a schedule or time zone
	// that cannot be read.
	ErrInvalidSchedule = errors.New("invalid schedule")
	// ErrNeverFires is wrapped by the error of a schedule that has no tick
	// within five years, such as "0 0 30 2 *".
	ErrNeverFires = errors.New("schedule never fires")
	// ErrInvalidOptions is wrapped by the errors of CleanupOptions that
	// cannot work, such as a negative TTL.
	ErrInvalidOptions = errors.New("invalid cleanup options")
)
