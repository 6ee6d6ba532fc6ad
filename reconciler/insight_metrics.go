package reconciler

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// The run insight's metrics: one series per SparkJob (its last run), so
// their cardinality is the number of jobs, whatever the number of runs.
var (
	runCoreSeconds = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "sparkcd_run_core_seconds",
		Help: "Cpu the last run of each SparkJob reserved, driver and executors (requests x lifetime), in core-seconds; as of its last executor change while it runs.",
	}, []string{"namespace", "job"})
	runMemoryGiBSeconds = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "sparkcd_run_memory_gib_seconds",
		Help: "Memory the last run of each SparkJob reserved, driver and executors (requests x lifetime), in GiB-seconds.",
	}, []string{"namespace", "job"})
	runPeakExecutors = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "sparkcd_run_peak_executors",
		Help: "Most executor pods the last run of each SparkJob had live at once.",
	}, []string{"namespace", "job"})
	runDuration = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "sparkcd_run_duration_seconds",
		Help: "Duration of the last run of each SparkJob, from its driver's creation to its end (to its last executor change while it runs).",
	}, []string{"namespace", "job"})
	runFirstExecutor = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "sparkcd_run_time_to_first_executor_seconds",
		Help: "Time from the driver's creation to the first executor pod of the last run of each SparkJob.",
	}, []string{"namespace", "job"})
	runLimitsExceeded = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sparkcd_run_limits_exceeded_total",
		Help: "Runtime limits runs broke, by SparkJob and rule (max-run-duration, max-run-core-hours, executor-drift).",
	}, []string{"namespace", "job", "rule"})
)

func init() {
	metrics.Registry.MustRegister(runCoreSeconds, runMemoryGiBSeconds, runPeakExecutors, runDuration, runFirstExecutor, runLimitsExceeded)
}

// observeInsight sets a job's run gauges from its last run's record.
func observeInsight(job *v1alpha1.SparkJob) {
	if job.Status.LastRun == nil || job.Status.LastRun.Insight == nil {
		return
	}
	in, ns, name := job.Status.LastRun.Insight, job.Namespace, job.Name
	runCoreSeconds.WithLabelValues(ns, name).Set(in.CoreSeconds())
	runMemoryGiBSeconds.WithLabelValues(ns, name).Set(in.GiBSeconds())
	runPeakExecutors.WithLabelValues(ns, name).Set(float64(in.PeakExecutors))
	runDuration.WithLabelValues(ns, name).Set(float64(in.DurationSeconds))
	if in.FirstExecutorSeconds != nil {
		runFirstExecutor.WithLabelValues(ns, name).Set(float64(*in.FirstExecutorSeconds))
	} else {
		runFirstExecutor.DeleteLabelValues(ns, name)
	}
}

// forgetInsight drops the run gauges of a deleted job.
func forgetInsight(namespace, name string) {
	for _, g := range []*prometheus.GaugeVec{runCoreSeconds, runMemoryGiBSeconds, runPeakExecutors, runDuration, runFirstExecutor} {
		g.DeleteLabelValues(namespace, name)
	}
	runLimitsExceeded.DeletePartialMatch(map[string]string{"namespace": namespace, "job": name})
}
