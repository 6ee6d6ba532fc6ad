package reconciler

import (
	"log/slog"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/clock"

	"github.com/sparkcd/sparkcd/admission"
)

// SourceOptions configure the source loop.
type SourceOptions struct {
	// CacheDir holds one git cache per JobSource, in a subdirectory named
	// after its namespace, name and UID. Required.
	CacheDir string
	// Policies are the allocation policies every job is judged against
	// before it is applied; a job with an error finding is not applied.
	// nil judges without policies.
	Policies admission.Policies
	// DefaultInterval is the fetch interval of a JobSource without one.
	DefaultInterval time.Duration
	// Jitter spreads the fetches of sources with the same interval: each
	// requeue waits up to this fraction of the interval longer.
	Jitter float64
	// FetchTimeout bounds one fetch of a JobSource without spec.timeout.
	FetchTimeout time.Duration
	// InsecureSkipTLSVerify accepts any HTTPS certificate of every git
	// server. Only for users who ask for it explicitly.
	InsecureSkipTLSVerify bool
	// InsecureSkipHostKeyCheck accepts any SSH host key of every git
	// server. Only for users who ask for it explicitly.
	InsecureSkipHostKeyCheck bool
	// AllowRemoteBases lets kustomizations refer to remote bases.
	AllowRemoteBases bool
	// Identity says whose identity the source's writes are sent with
	// (identity_client.go).
	Identity IdentityOptions
	// MaxConcurrentReconciles is how many sources are reconciled at once.
	MaxConcurrentReconciles int
	// ApplyConcurrency is how many SparkJobs of one source are applied
	// at once (source_apply.go): each apply is an API round trip, and a
	// commit of 1,000 jobs waited for 1,000 of them in a row. The
	// client's rate limit (ManagerOptions.QPS) bounds them all the same.
	ApplyConcurrency int
	// Clock is the time source; tests set a fake one.
	Clock clock.PassiveClock
	// Logger receives the git client's logs (the reconciles log through
	// the manager's logger); nil means slog.Default().
	Logger *slog.Logger
	// WatchSelector, when set, is the shard's selector: only the
	// JobSources it selects are reconciled, and the jobs a source applies
	// carry its sparkcd.io/shard label (shard.go). The manager's
	// ManagerOptions.WatchSelector must be the same.
	WatchSelector labels.Selector
}

// DefaultSourceOptions returns the source loop's defaults: a one-minute
// interval with 10 % jitter, a one-minute fetch timeout, host keys and
// certificates verified, no remote bases, four sources at once, and 16
// jobs of a source applied at once.
func DefaultSourceOptions() SourceOptions {
	return SourceOptions{
		DefaultInterval:         time.Minute,
		Jitter:                  0.1,
		FetchTimeout:            time.Minute,
		MaxConcurrentReconciles: 4,
		ApplyConcurrency:        16,
		Clock:                   clock.RealClock{},
	}
}

// withDefaults fills the zero fields of o from DefaultSourceOptions.
func (o SourceOptions) withDefaults() SourceOptions {
	d := DefaultSourceOptions()
	if o.DefaultInterval <= 0 {
		o.DefaultInterval = d.DefaultInterval
	}
	if o.Jitter < 0 {
		o.Jitter = 0
	}
	if o.FetchTimeout <= 0 {
		o.FetchTimeout = d.FetchTimeout
	}
	if o.MaxConcurrentReconciles <= 0 {
		o.MaxConcurrentReconciles = d.MaxConcurrentReconciles
	}
	if o.ApplyConcurrency <= 0 {
		o.ApplyConcurrency = d.ApplyConcurrency
	}
	if o.Clock == nil {
		o.Clock = d.Clock
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}
