package admission

import (
	"cmp"
	"strconv"
	"strings"
	"time"

	// Time zones are checked against the embedded IANA database, so the
	// result never depends on the host's zoneinfo (distroless images have
	// none).
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/materialize"
	"github.com/sparkcd/sparkcd/runid"
)

// logLevels are the log4j2 levels logLevel accepts.
var logLevels = map[v1alpha1.LogLevel]bool{
	"ALL": true, "TRACE": true, "DEBUG": true, "INFO": true, "WARN": true, "ERROR": true, "FATAL": true, "OFF": true,
}

func validateName(f *findings, job *v1alpha1.SparkJob) {
	name := job.Name
	switch {
	case name == "":
		f.errorf(RuleRequiredField, "metadata.name", "metadata.name is empty: a job needs a name")
		return
	case len(name) > runid.MaxJobNameLength:
		f.errorf(RuleNameTooLong, "metadata.name",
			"name %s is too long: %d characters, at most %d (a DNS-1035 label, as the Spark Operator accepts): the driver service and the run's labels carry it",
			quoted(name), len(name), runid.MaxJobNameLength)
	}
	if errs := dnsLabelErrors(name); len(errs) > 0 {
		f.errorf(RuleInvalidName, "metadata.name",
			"name %s is not a DNS-1035 label (lowercase letters, digits and '-', starting with a letter): the driver service is named after it", quoted(name))
	}
}

// dnsLabelErrors are the reasons name is not a DNS-1035 label, but its
// length: name-too-long says that one first.
func dnsLabelErrors(name string) []string {
	tooLong := validation.MaxLenError(validation.DNS1035LabelMaxLength)
	var errs []string
	for _, e := range validation.IsDNS1035Label(name) {
		if e != tooLong {
			errs = append(errs, e)
		}
	}
	return errs
}

func validateApplication(f *findings, job *v1alpha1.SparkJob) {
	s := &job.Spec
	switch s.Type {
	case "":
		f.errorf(RuleRequiredField, "spec.type", "spec.type is empty: expected Java, Scala, Python or R")
	case v1alpha1.JavaApplication, v1alpha1.ScalaApplication:
		if optString(s.MainClass) == "" {
			f.errorf(RuleRequiredField, "spec.mainClass", "spec.mainClass is empty: a %s job needs its main class, such as 'org.apache.spark.examples.SparkPi'", s.Type)
		}
	case v1alpha1.PythonApplication, v1alpha1.RApplication:
	default:
		f.errorf(RuleUnsupportedType, "spec.type", "spec.type is %s: expected Java, Scala, Python or R", quoted(string(s.Type)))
	}
	if optString(s.MainApplicationFile) == "" {
		f.errorf(RuleRequiredField, "spec.mainApplicationFile", "spec.mainApplicationFile is empty: expected the jar, .py or .R file, such as 'local:///opt/spark/examples/jars/spark-examples.jar'")
	}
	if s.Mode != "" && s.Mode != v1alpha1.ClusterMode {
		f.errorf(RuleUnsupportedMode, "spec.mode", "spec.mode is %s: sparkcd creates the driver pod itself, which is Spark's cluster mode; expected 'cluster' or unset", quoted(string(s.Mode)))
	}
	validatePythonVersion(f, s)
	if s.LogLevel != "" && !logLevels[s.LogLevel] {
		f.errorf(RuleInvalidLogLevel, "spec.logLevel", "spec.logLevel is %s: expected one of ALL, TRACE, DEBUG, INFO, WARN, ERROR, FATAL, OFF", quoted(string(s.LogLevel)))
	}
	switch s.ConcurrencyPolicy {
	case "", v1alpha1.AllowConcurrent, v1alpha1.ForbidConcurrent, v1alpha1.ReplaceConcurrent:
	default:
		f.errorf(RuleInvalidEnum, "spec.concurrencyPolicy", "spec.concurrencyPolicy is %s: expected Allow, Forbid or Replace", quoted(string(s.ConcurrencyPolicy)))
	}
	if p := s.ImagePullPolicy; p != nil {
		switch *p {
		case "Always", "IfNotPresent", "Never":
		default:
			f.errorf(RuleInvalidEnum, "spec.imagePullPolicy", "spec.imagePullPolicy is %s: expected Always, IfNotPresent or Never", quoted(*p))
		}
	}
	validateImages(f, s)
	validateBatchScheduler(f, s) // validate_scheduler.go
}

// validateImages requires an image for the driver and the executors and
// flags sparkConf image keys beside the typed images.
func validateImages(f *findings, s *v1alpha1.SparkJobSpec) {
	conf := s.SparkConf
	common := cmp.Or(optString(s.Image), conf["spark.kubernetes.container.image"])
	driver := cmp.Or(optString(s.Driver.Image), conf["spark.kubernetes.driver.container.image"], common)
	executor := cmp.Or(optString(s.Executor.Image), conf["spark.kubernetes.executor.container.image"], common)
	if driver == "" || executor == "" {
		f.errorf(RuleRequiredField, "spec.image", "no container image for the %s: set spec.image (or spec.driver.image and spec.executor.image)", missingRoles(driver, executor))
	}
	for _, c := range []struct{ key, typed, path string }{
		{"spark.kubernetes.container.image", optString(s.Image), "spec.image"},
		{"spark.kubernetes.driver.container.image", cmp.Or(optString(s.Driver.Image), optString(s.Image)), "spec.driver.image"},
		{"spark.kubernetes.executor.container.image", cmp.Or(optString(s.Executor.Image), optString(s.Image)), "spec.executor.image"},
	} {
		v, ok := conf[c.key]
		if !ok || c.typed == "" {
			continue
		}
		if v == c.typed {
			f.warnf(RuleImageConflict, confField(c.key), "sparkConf sets %s to the same image as %s (%s): remove the sparkConf entry", c.key, c.path, quoted(v))
			continue
		}
		f.errorf(RuleImageConflict, confField(c.key), "sparkConf sets %s to %s but %s is %s: set the image in one place, the typed field", c.key, quoted(v), c.path, quoted(c.typed))
	}
}

func missingRoles(driver, executor string) string {
	switch {
	case driver == "" && executor == "":
		return "driver and the executors"
	case driver == "":
		return "driver"
	}
	return "executors"
}

// cronParser reads schedules as Kubernetes CronJob does: five fields or a
// descriptor such as @daily or @every 1h.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func validateSchedule(f *findings, s *v1alpha1.SparkJobSpec) {
	if sched := strings.TrimSpace(s.Schedule); sched != "" {
		if strings.HasPrefix(sched, "TZ=") || strings.HasPrefix(sched, "CRON_TZ=") {
			f.errorf(RuleInvalidSchedule, "spec.schedule", "spec.schedule %s carries its own time zone: move it to spec.timeZone and keep only the cron expression", quoted(sched))
		} else if _, err := cronParser.Parse(sched); err != nil {
			f.errorf(RuleInvalidSchedule, "spec.schedule", "spec.schedule %s is not a cron schedule (%v): expected five fields such as '0 3 * * *' or a descriptor such as '@daily' or '@every 1h'", quoted(sched), err)
		} else if every, ok := strings.CutPrefix(sched, "@every "); ok {
			// robfig/cron raises any interval below a second to one second:
			// "@every -1h" would start a run every second.
			if d, err := time.ParseDuration(strings.TrimSpace(every)); err == nil && d <= 0 {
				f.errorf(RuleInvalidSchedule, "spec.schedule", "spec.schedule %s has an interval of zero or less: expected a positive one such as '@every 1h'", quoted(sched))
			}
		}
	}
	if tz := s.TimeZone; tz != "" {
		if _, err := time.LoadLocation(tz); err != nil || tz == "Local" {
			f.errorf(RuleInvalidTimeZone, "spec.timeZone", "spec.timeZone %s is not an IANA time zone: expected a name such as 'UTC' or 'Europe/Paris'", quoted(tz))
		}
	}
	if d := s.StartingDeadlineSeconds; d != nil && *d < 0 {
		f.errorf(RuleInvalidDuration, "spec.startingDeadlineSeconds", "spec.startingDeadlineSeconds is %d: expected 0 or more", *d)
	}
	if d := s.TimeToLiveSeconds; d != nil && *d < 0 {
		f.errorf(RuleInvalidDuration, "spec.timeToLiveSeconds", "spec.timeToLiveSeconds is %d: expected 0 or more", *d)
	}
	for _, l := range []struct {
		v    *int32
		path string
	}{{s.SuccessfulRunHistoryLimit, "spec.successfulRunHistoryLimit"}, {s.FailedRunHistoryLimit, "spec.failedRunHistoryLimit"}} {
		if l.v != nil && *l.v < 0 {
			f.errorf(RuleInvalidCount, l.path, "%s is %d: expected 0 or more", l.path, *l.v)
		}
	}
}

// validateVolumes checks that every mount names a volume its pod has: one
// of spec.volumes or one sparkcd adds (configMaps, secrets, Spark's own).
func validateVolumes(f *findings, s *v1alpha1.SparkJobSpec) {
	declared := map[string]bool{}
	for _, v := range s.Volumes {
		declared[v.Name] = true
	}
	for _, role := range []struct {
		name string
		pod  *v1alpha1.SparkPodSpec
	}{{"driver", &s.Driver.SparkPodSpec}, {"executor", &s.Executor.SparkPodSpec}} {
		known := map[string]bool{}
		for _, name := range materialize.AddedVolumeNames(s, role.pod, role.name == "driver") {
			known[name] = true
		}
		check := func(path, name string) {
			// Spark creates a spark-local-dir-<n> volume itself, and so does
			// sparkcd for a mount of one the pod does not declare.
			if declared[name] || known[name] || strings.HasPrefix(name, materialize.LocalDirVolumePrefix) {
				return
			}
			f.errorf(RuleUnknownVolume, path, "volumeMount names volume %s, which is not in spec.volumes nor in the pod template: declare it there", quoted(name))
		}
		base := "spec." + role.name
		for i, vm := range role.pod.VolumeMounts {
			check(indexed(base+".volumeMounts", i), vm.Name)
		}
		for i, c := range role.pod.Sidecars {
			for j, vm := range c.VolumeMounts {
				check(indexed(indexed(base+".sidecars", i)+".volumeMounts", j), vm.Name)
			}
		}
		for i, c := range role.pod.InitContainers {
			for j, vm := range c.VolumeMounts {
				check(indexed(indexed(base+".initContainers", i)+".volumeMounts", j), vm.Name)
			}
		}
		for path, c := range templateContainers(base, role.pod) {
			for j, vm := range c.VolumeMounts {
				check(indexed(path+".volumeMounts", j), vm.Name)
			}
		}
	}
}

func indexed(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}
