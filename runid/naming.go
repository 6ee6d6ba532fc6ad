package runid

import (
	"strconv"
	"strings"
	"time"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// Name limits. A job's name is any DNS-1035 label (at most 63 characters),
// as the Spark Operator accepts, and every name sparkcd derives from it
// fits Kubernetes' limits:
//
//   - the run, "<job>-<suffix>", is at most MaxRunNameLength (47) characters,
//     because it is also spark.kubernetes.executor.podNamePrefix, which Spark
//     caps at 47 so "<prefix>-exec-<id>" stays a 63-character DNS label. A
//     job name too long for that is cut and ends in a hash of the whole
//     name ("<start of job>-<8 hex>-<suffix>"), as Spark shortens its
//     driver service name, so two long names never share their runs;
//   - the driver pod "<run>-driver" (54), the service "<run>-driver-svc" (58),
//     the ConfigMap "<run>-conf" (52) and the Ingress "<run>-ui" (50) are
//     DNS-1035 labels of at most 63 characters, so Spark's fallback service
//     name is never needed;
//   - the label values (job, run, spark.app.id) are at most 63 characters.
//
// A job name of at most MaxUncutJobNameLength characters is never cut, so
// the runs of such jobs are named as they always were.
const (
	// MaxRunNameLength is the longest run name.
	MaxRunNameLength = 47
	// MaxRunSuffixLength is the longest run suffix: 8 hex characters of the
	// spec hash, the schedule tick in minutes (8 digits until 2160), or a
	// manual run's suffix.
	MaxRunSuffixLength = 10
	// MaxDNSLabelLength is Kubernetes' limit on a DNS label and a label value.
	MaxDNSLabelLength = 63
	// MaxJobNameLength is the longest SparkJob name: a DNS-1035 label, as
	// the Spark Operator's webhook accepts for a SparkApplication.
	MaxJobNameLength = MaxDNSLabelLength
	// MaxUncutJobNameLength is the longest job name a run name holds whole
	// whatever its suffix.
	MaxUncutJobNameLength = MaxRunNameLength - 1 - MaxRunSuffixLength
	// jobHashLength is the length of the hash a cut job name ends in.
	jobHashLength = 8
)

// Name suffixes of a run's objects.
const (
	driverPodSuffix     = "-driver"
	driverServiceSuffix = "-driver-svc"
	configMapSuffix     = "-conf"
	ingressSuffix       = "-ui"
	podGroupSuffix      = "-pg"
)

// RunName returns the run name "<job>-<suffix>", a valid DNS-1035 label of
// at most MaxRunNameLength characters: dots become dashes, and a job name too
// long for the suffix is cut and ends in a hash of the whole name (see
// cutJobName), so the same inputs always give the same name and different
// jobs different names.
func RunName(job, suffix string) string {
	full := job
	job = strings.ToLower(strings.ReplaceAll(job, ".", "-"))
	suffix = strings.ToLower(suffix)
	if len(suffix) > MaxRunSuffixLength {
		suffix = suffix[:MaxRunSuffixLength]
	}
	room := MaxRunNameLength - 1 - len(suffix)
	if len(job) > room {
		job = cutJobName(full, job, room)
	}
	job = strings.TrimRight(job, "-")
	if job == "" || job[0] < 'a' || job[0] > 'z' {
		job = "r" + job
		if len(job) > room {
			job = strings.TrimRight(job[:room], "-")
		}
	}
	return job + "-" + suffix
}

// cutJobName shortens job to room characters: its start, a dash and the
// first jobHashLength hex characters of the digest of the full name.
func cutJobName(full, job string, room int) string {
	hash := DigestOf("job-name", full)[:jobHashLength]
	keep := max(room-1-jobHashLength, 0)
	return strings.TrimRight(job[:keep], "-") + "-" + hash
}

// AppID returns the run's spark.app.id: "spark-" and 32 lowercase hex
// characters derived from the namespace and the run name, so a retried
// create is byte-identical.
func AppID(namespace, runName string) string {
	return "spark-" + DigestOf(namespace, runName)[:32]
}

// OfflineRun returns the run a job without a schedule starts for a spec:
// "<job>-<first 8 hex of SpecHash>", triggered by a commit at revision.
func OfflineRun(job *v1alpha1.SparkJob, revision string) Identity {
	hash := SpecHash(job)
	name := RunName(job.Name, Short(hash))
	return Identity{
		Name:     name,
		AppID:    AppID(job.Namespace, name),
		Revision: revision,
		Trigger:  v1alpha1.TriggerCommit,
		SpecHash: hash,
	}
}

// ScheduledRunName returns the run name of a schedule tick: the suffix is
// the tick in Unix minutes, as Kubernetes CronJob names its Jobs, so every
// replica and every retry agrees on it.
func ScheduledRunName(job string, tick time.Time) string {
	return RunName(job, strconv.FormatInt(tick.Unix()/60, 10))
}

// DriverPodName returns the driver pod's name, spark.kubernetes.driver.pod.name.
func DriverPodName(run string) string { return run + driverPodSuffix }

// ConfigMapName returns the name of the run's ConfigMap.
func ConfigMapName(run string) string { return run + configMapSuffix }

// PodGroupName returns the name of the run's batch-scheduler pod group,
// "<run>-pg", or, past 63 characters (the group's name is also a label
// value on the pods), "spark-<id>-pg" with an id from the app id, as
// ServiceName falls back.
func PodGroupName(run, appID string) string { return shortName(run, appID, podGroupSuffix) }

// IngressName returns the name of the run's UI Ingress.
func IngressName(run string) string { return run + ingressSuffix }

// ServiceName returns the headless driver service's name,
// "<run>-driver-svc", or, past 63 characters, Spark's fallback form
// "spark-<id>-driver-svc" with an id derived from the app id instead of
// Spark's random one, so the name is deterministic.
func ServiceName(run, appID string) string { return shortName(run, appID, driverServiceSuffix) }

// shortName is run+suffix, or, past 63 characters, "spark-<id>"+suffix
// with the first 16 characters of the app id's own id.
func shortName(run, appID, suffix string) string {
	name := run + suffix
	if len(name) <= MaxDNSLabelLength {
		return name
	}
	id := strings.TrimPrefix(appID, "spark-")
	if len(id) > 16 {
		id = id[:16]
	}
	return "spark-" + id + suffix
}
