package reconciler

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// The job loop's metrics, served with controller-runtime's on /metrics.
var (
	runsStarted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sparkcd_runs_started_total",
		Help: "Runs started, by namespace and trigger (commit, schedule, manual).",
	}, []string{"namespace", "trigger"})
	runsFinished = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sparkcd_runs_finished_total",
		Help: "Runs seen ending, by namespace, phase and reason.",
	}, []string{"namespace", "phase", "reason"})
	runPhase = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "sparkcd_job_last_run_phase",
		Help: "1 for the phase of each SparkJob's last run, 0 for the other phases.",
	}, []string{"namespace", "job", "phase"})
	runRetries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sparkcd_run_retries_total",
		Help: "New attempts spec.restartPolicy scheduled, by namespace, SparkJob and cause (run: a run ended; submission: the driver was refused).",
	}, []string{"namespace", "job", "cause"})
	activeRuns = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "sparkcd_job_active_runs",
		Help: "Runs of each SparkJob whose driver has not ended.",
	}, []string{"namespace", "job"})
	reconcileDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sparkcd_job_reconcile_duration_seconds",
		Help:    "Time one reconcile of one SparkJob takes, by result (success, error, stalled).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"result"})
)

// The source loop's metrics.
var (
	sourceReconcileDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sparkcd_source_reconcile_duration_seconds",
		Help:    "Time one reconcile of one JobSource takes: fetch, render, apply and prune.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"namespace", "name"})
	sourceRevision = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "sparkcd_source_revision_info",
		Help: "1 for the revision each JobSource last applied.",
	}, []string{"namespace", "name", "revision"})
	sourceFindings = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "sparkcd_source_findings",
		Help: "Findings of each JobSource's last attempted revision, by severity.",
	}, []string{"namespace", "name", "severity"})
	gitFetchErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sparkcd_git_fetch_errors_total",
		Help: "Failed fetches, by JobSource.",
	}, []string{"namespace", "name"})
	sourceApplied = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sparkcd_source_applied_total",
		Help: "SparkJobs applied (created, changed or restored), by JobSource.",
	}, []string{"namespace", "name"})
	sourcePruned = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sparkcd_source_pruned_total",
		Help: "SparkJobs pruned, by JobSource.",
	}, []string{"namespace", "name"})
)

// The leader fence's metric.
var fenceRefusals = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "sparkcd_leader_fence_refused_requests_total",
	Help: "Write requests refused because leadership was not confirmed within the renew deadline, by HTTP method.",
}, []string{"method"})

var phases = []v1alpha1.RunPhase{v1alpha1.RunPending, v1alpha1.RunRunning, v1alpha1.RunSucceeded, v1alpha1.RunFailed, v1alpha1.RunUnknown}

func init() {
	metrics.Registry.MustRegister(runsStarted, runsFinished, runRetries, runPhase, activeRuns, reconcileDuration,
		sourceReconcileDuration, sourceRevision, sourceFindings, gitFetchErrors, sourceApplied, sourcePruned,
		fenceRefusals)
}

// observeReconcile records a reconcile's duration and the job's gauges.
func observeReconcile(rc *reconciliation, start time.Time, err error) {
	result := "success"
	switch {
	case err != nil && isTerminal(err):
		result = "stalled"
	case err != nil:
		result = "error"
	}
	reconcileDuration.WithLabelValues(result).Observe(time.Since(start).Seconds())
	job := rc.job
	activeRuns.WithLabelValues(job.Namespace, job.Name).Set(float64(len(job.Status.ActiveRuns)))
	observeInsight(job)
	if job.Status.LastRun == nil {
		return
	}
	for _, p := range phases {
		v := 0.0
		if p == job.Status.LastRun.Phase {
			v = 1
		}
		runPhase.WithLabelValues(job.Namespace, job.Name, string(p)).Set(v)
	}
}

// forgetJob drops the gauges of a deleted job.
func forgetJob(namespace, name string) {
	for _, p := range phases {
		runPhase.DeleteLabelValues(namespace, name, string(p))
	}
	activeRuns.DeleteLabelValues(namespace, name)
	runRetries.DeletePartialMatch(map[string]string{"namespace": namespace, "job": name})
	forgetInsight(namespace, name)
}

// observeSource records a source reconcile: its duration, the revision
// applied, the findings and what was applied and pruned.
func observeSource(sc *sourceReconciliation, start time.Time, _ error) {
	ns, name := sc.src.Namespace, sc.src.Name
	sourceReconcileDuration.WithLabelValues(ns, name).Observe(time.Since(start).Seconds())
	if len(sc.applied) > 0 {
		sourceApplied.WithLabelValues(ns, name).Add(float64(len(sc.applied)))
	}
	if len(sc.pruned) > 0 {
		sourcePruned.WithLabelValues(ns, name).Add(float64(len(sc.pruned)))
	}
	if rev, old := sc.src.Status.LastAppliedRevision, sc.base.Status.LastAppliedRevision; rev != "" {
		if old != rev {
			sourceRevision.DeleteLabelValues(ns, name, old)
		}
		sourceRevision.WithLabelValues(ns, name, rev).Set(1)
	}
	counts := map[v1alpha1.Severity]int{v1alpha1.SeverityError: 0, v1alpha1.SeverityWarning: 0}
	for _, j := range sc.src.Status.Jobs {
		for _, f := range j.Findings {
			counts[f.Severity]++
		}
	}
	for sev, n := range counts {
		sourceFindings.WithLabelValues(ns, name, string(sev)).Set(float64(n))
	}
	observeSourceConditions(ns, name, sc.src.Status.Conditions)
}

// forgetSource drops the gauges of a deleted source.
func forgetSource(namespace, name string) {
	sourceRevision.DeletePartialMatch(map[string]string{"namespace": namespace, "name": name})
	sourceFindings.DeletePartialMatch(map[string]string{"namespace": namespace, "name": name})
	sourceReconcileDuration.DeleteLabelValues(namespace, name)
	forgetSourceConditions(namespace, name)
}
