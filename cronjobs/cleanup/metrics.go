package cleanup

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// The cleanup's metrics, served with controller-runtime's on /metrics.
var (
	driversDeleted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sparkcd_cleanup_drivers_deleted_total",
		Help: "Finished driver pods the cleanup deleted, by namespace and reason (TTLExpired, HistoryLimit).",
	}, []string{"namespace", "reason"})
	driversKept = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "sparkcd_cleanup_drivers_kept",
		Help: "Finished driver pods in scope the last cleanup pass kept.",
	})
	passErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sparkcd_cleanup_errors_total",
		Help: "Cleanup failures, by operation (list, record, delete).",
	}, []string{"operation"})
	passDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "sparkcd_cleanup_pass_duration_seconds",
		Help:    "Time one cleanup pass takes.",
		Buckets: prometheus.ExponentialBuckets(0.01, 4, 10),
	})
	lastPass = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "sparkcd_cleanup_last_pass_timestamp_seconds",
		Help: "When the last cleanup pass that deleted for real started, in Unix seconds.",
	})
	// nextPass is the tick the in-process cleanup waits for: a tick long
	// past means a pass hangs or the schedule stopped, whatever the
	// schedule is. A `cleanup --once` never sets it.
	nextPass = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "sparkcd_cleanup_next_pass_timestamp_seconds",
		Help: "The tick of the cleanup schedule the next in-process pass waits for, in Unix seconds; 0 when no schedule runs here.",
	})
)

func init() {
	metrics.Registry.MustRegister(driversDeleted, driversKept, passErrors, passDuration, lastPass, nextPass)
}

// observePass records a pass; a dry run changes nothing, so it counts no
// deletes.
func observePass(r Report) {
	if r.DryRun {
		return
	}
	for _, d := range r.Deleted {
		driversDeleted.WithLabelValues(d.Namespace, string(d.Reason)).Inc()
	}
	driversKept.Set(float64(r.Kept))
	passDuration.Observe(r.Duration.Seconds())
	lastPass.Set(float64(r.Started.Unix()))
}
