package v1alpha1

// The defaults SetDefaults fills in.
const (
	// DefaultRunHistoryLimit is the default of successfulRunHistoryLimit and
	// failedRunHistoryLimit.
	DefaultRunHistoryLimit int32 = 3
	// DefaultTimeZone is the time zone of a schedule that names none.
	DefaultTimeZone = "UTC"
)

// SetDefaults fills in sparkcd's own fields that a job leaves unset:
// concurrencyPolicy Forbid, successfulRunHistoryLimit and
// failedRunHistoryLimit 3, mode "cluster", and timeZone "UTC" — the last only
// when a schedule is set, since without one the time zone means nothing and
// would only change the spec hash. A restartPolicy that restarts nothing
// (type Never, whose retry settings have no effect) is cleared, for the
// same reason.
//
// It never sets a Spark setting: Spark's own defaults stay implicit, and the
// properties say them only where spark-submit would, so a default here can
// never change how Spark runs the job. SetDefaults is idempotent.
func SetDefaults(job *SparkJob) {
	if job == nil {
		return
	}
	s := &job.Spec
	if s.ConcurrencyPolicy == "" {
		s.ConcurrencyPolicy = ForbidConcurrent
	}
	if s.SuccessfulRunHistoryLimit == nil {
		n := DefaultRunHistoryLimit
		s.SuccessfulRunHistoryLimit = &n
	}
	if s.FailedRunHistoryLimit == nil {
		n := DefaultRunHistoryLimit
		s.FailedRunHistoryLimit = &n
	}
	if s.Mode == "" {
		s.Mode = ClusterMode
	}
	s.RestartPolicy = effectiveRestartPolicy(s.RestartPolicy)
	if s.Schedule != "" && s.TimeZone == "" {
		s.TimeZone = DefaultTimeZone
	}
}
