package admission

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/materialize"
	"github.com/sparkcd/sparkcd/render/sparkconf"
)

// managedKeys are set by sparkcd for every run; sparkConf must not set them.
var managedKeys = map[string]string{
	sparkconf.KeyMaster:                 "the master is the cluster sparkcd runs in",
	sparkconf.KeyDeployMode:             "sparkcd runs the driver in cluster mode",
	sparkconf.KeyAppID:                  "each run gets its own app id",
	sparkconf.KeyDriverHost:             "the driver is reached through the run's headless service (Spark rejects it on Kubernetes)",
	sparkconf.KeyDriverBindAddress:      "the driver binds to its pod IP (Spark rejects it on Kubernetes)",
	sparkconf.KeyDriverPort:             "the driver service exposes port 7078",
	sparkconf.KeyDriverBlockManagerPort: "the driver service exposes port 7079",
	sparkconf.KeySubmitInDriver:         "sparkcd submits in the driver",
	sparkconf.KeyResourceType:           "spec.type decides it",
}

// ignoredKeyPrefixes are read only by spark-submit when it creates the
// driver pod, which sparkcd does instead.
var ignoredKeyPrefixes = map[string]string{
	sparkconf.KeyAppName:                               "the application is named after the job",
	sparkconf.KeyDriverPodTemplateFile:                 "put the template in spec.driver.template, as the Spark Operator replaces this key too",
	sparkconf.KeyExecutorPodTemplateFile:               "put the template in spec.executor.template, as the Spark Operator replaces this key too",
	"spark.kubernetes.driver.podTemplateContainerName": "the driver's Spark container is the template's 'spark-kubernetes-driver', else its first, as with the Spark Operator",
	sparkconf.KeyExecutorContainerName:                 "the executors' Spark container is the template's 'spark-kubernetes-executor', else its first, as with the Spark Operator",
	sparkconf.KeyDriverPodName:                         "every run's driver pod is named '<run>-driver', so runs never collide and each keeps its own pod and logs",
	"spark.kubernetes.file.upload.path":                "sparkcd uploads nothing: refer to files in the image or at a remote URL",
	"spark.kubernetes.submission.waitAppCompletion":    "sparkcd never waits in a submission client",
}

// validateSparkConf checks sparkConf and hadoopConf entries on their own.
func validateSparkConf(f *findings, job *v1alpha1.SparkJob) {
	s := &job.Spec
	for _, k := range sortedConfKeys(s.SparkConf) {
		v := s.SparkConf[k]
		if why, ok := managedKeys[k]; ok {
			f.errorf(RuleManagedSparkConf, confField(k), "sparkConf sets %s to %s, which sparkcd manages: %s; remove the entry", k, quoted(v), why)
		}
		if (k == sparkconf.KeyUIProxyBase || k == sparkconf.KeyUIProxyRedirectURI) && uiPrefix(s) {
			f.errorf(RuleManagedSparkConf, confField(k), "sparkConf sets %s to %s, but sparkUIOptions.ingressPath decides it; remove the entry", k, quoted(v))
		}
		for prefix, why := range ignoredKeyPrefixes {
			if k == prefix || (strings.HasSuffix(prefix, ".") && strings.HasPrefix(k, prefix)) {
				f.warnf(RuleIgnoredSparkConf, confField(k), "sparkConf sets %s, which sparkcd ignores: %s", k, why)
			}
		}
		if k == sparkconf.KeyNamespace && v != job.Namespace {
			f.errorf(RuleNamespaceMismatch, confField(k), "sparkConf sets %s to %s but the job is in namespace %s: the job's namespace decides; remove the entry", k, quoted(v), quoted(job.Namespace))
		}
		checkCredential(f, confField(k), k)
	}
	for _, k := range sortedConfKeys(s.HadoopConf) {
		checkCredential(f, "spec.hadoopConf["+k+"]", sparkconf.HadoopPrefix+k)
	}
	validateConflicts(f, job)
}

// uiPrefix reports whether sparkcd sets spark.ui.proxyBase for the job.
func uiPrefix(s *v1alpha1.SparkJobSpec) bool {
	ui := s.SparkUIOptions
	return ui != nil && ui.IngressHost != "" && strings.Trim(ui.IngressPath, "/ ") != ""
}

// secretWords mark keys that hold a credential; the value is never echoed.
var secretWords = []string{"password", "secret.key", "access.key", "account.key", "session.token", "oauthtoken", "sas.token", "credential.token"}

func checkCredential(f *findings, field, key string) {
	if materialize.IsConfSecretKeyRef(key) {
		return // its value is "<secret>:<key>", a reference, never the secret
	}
	if rest, ok := strings.CutPrefix(key, "spark.kubernetes.authenticate."); ok {
		if !strings.HasSuffix(rest, "serviceAccountName") {
			f.errorf(RuleCredentialsInSparkConf, field, "%s is a Kubernetes credential in the job spec, that is in git: the driver authenticates with its service account (spec.driver.serviceAccount); remove the entry", key)
		}
		return
	}
	lower := strings.ToLower(key)
	for _, w := range secretWords {
		if strings.Contains(lower, w) {
			f.warnf(RuleCredentialsInSparkConf, field, "%s looks like a credential in the job spec, that is in git: mount it from a Secret (spec.driver.secrets, envFrom) instead", key)
			return
		}
	}
}

// validateConflicts warns where sparkConf and a typed field set one key to
// different values: the typed field wins, as later --conf flags do.
func validateConflicts(f *findings, job *v1alpha1.SparkJob) {
	props, err := sparkconf.JobProperties(job)
	if err != nil {
		return
	}
	typed := typedFields(job)
	for _, k := range sortedConfKeys(job.Spec.SparkConf) {
		path, ok := typed[k]
		if !ok || strings.HasSuffix(k, "container.image") {
			continue
		}
		v := job.Spec.SparkConf[k]
		got := props[k]
		if k == sparkconf.KeyJars {
			got = strings.Join(job.Spec.Deps.Jars, ",")
		}
		if v != got {
			f.warnf(RuleConflictingSparkConf, confField(k), "sparkConf sets %s to %s but %s sets it to %s, which wins: remove one of them", k, quoted(v), path, quoted(got))
		}
	}
}

func sortedConfKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// validatePods checks the sizes, cores and counts Spark will read.
func validatePods(f *findings, job *v1alpha1.SparkJob) {
	props, err := sparkconf.JobProperties(job)
	if err != nil {
		return // the type finding says why
	}
	field := func(key string) string { return fieldOf(job, key, confField(key)) }
	for _, role := range []string{"driver", "executor"} {
		for _, key := range []string{"spark." + role + ".memory", "spark." + role + ".memoryOverhead", "spark." + role + ".minMemoryOverhead"} {
			v, ok := props[key]
			if !ok {
				continue
			}
			mib, err := sparkconf.ParseMemoryMiB(v)
			switch {
			case err != nil:
				f.errorf(RuleInvalidMemory, field(key), "%s is %s: %v", key, quoted(v), err)
			case mib <= 0 && strings.HasSuffix(key, ".memory"):
				f.errorf(RuleInvalidMemory, field(key), "%s is %s: expected at least 1m, such as '512m' or '4g'", key, quoted(v))
			}
		}
		if v, ok := props["spark."+role+".cores"]; ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err != nil || n < 1 {
				f.errorf(RuleInvalidCores, field("spark."+role+".cores"), "spark.%s.cores is %s: expected a whole number of at least 1 (use coreRequest for a fraction such as '3400m')", role, quoted(v))
			}
		}
		validateCPU(f, props, role, field)
		validateFactor(f, props, "spark."+role+".memoryOverheadFactor", field)
	}
	validateFactor(f, props, sparkconf.KeyMemoryOverheadFactor, field)
	if v, ok := props[sparkconf.KeyExecutorPySparkMemory]; ok {
		if _, err := sparkconf.ParseMemoryMiB(v); err != nil {
			f.errorf(RuleInvalidMemory, field(sparkconf.KeyExecutorPySparkMemory), "%s is %s: %v", sparkconf.KeyExecutorPySparkMemory, quoted(v), err)
		}
	}
	if _, err := sparkconf.ExecutorResources(job); err != nil && strings.Contains(err.Error(), sparkconf.KeyOffHeapSize) {
		f.errorf(RuleInvalidMemory, field(sparkconf.KeyOffHeapSize), "%v", err)
	}
	if v, ok := props[sparkconf.KeyUIPort]; ok {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err != nil || n < 1024 || n > 65535 {
			f.errorf(RuleInvalidPort, field(sparkconf.KeyUIPort), "spark.ui.port is %s: expected a port from 1024 to 65535", quoted(v))
		}
	}
}

// validateCPU checks the request and limit quantities and that the limit is
// not below the request, which Kubernetes would reject.
func validateCPU(f *findings, props map[string]string, role string, field func(string) string) {
	reqKey, limKey := "spark.kubernetes."+role+".request.cores", "spark.kubernetes."+role+".limit.cores"
	var req, lim *resource.Quantity
	for _, c := range []struct {
		key string
		dst **resource.Quantity
	}{{reqKey, &req}, {limKey, &lim}} {
		v, ok := props[c.key]
		if !ok {
			continue
		}
		q, err := sparkconf.ParseCores(v)
		if err != nil {
			f.errorf(RuleInvalidCores, field(c.key), "%s is %s: %v", c.key, quoted(v), err)
			continue
		}
		*c.dst = &q
	}
	if req == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(props["spark."+role+".cores"])); err == nil && n > 0 {
			q := resource.MustParse(strconv.Itoa(n))
			req = &q
		} else if _, set := props["spark."+role+".cores"]; !set {
			q := resource.MustParse("1")
			req = &q
		}
	}
	if req != nil && lim != nil && lim.Cmp(*req) < 0 {
		f.errorf(RuleInvalidCores, field(limKey), "the %s's cpu limit %s is below its cpu request %s: Kubernetes rejects the pod; raise the limit or lower the request", role, lim.String(), req.String())
	}
}

func validateFactor(f *findings, props map[string]string, key string, field func(string) string) {
	v, ok := props[key]
	if !ok {
		return
	}
	if x, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil || x <= 0 || math.IsInf(x, 0) {
		f.errorf(RuleInvalidOverheadFactor, field(key), "%s is %s: expected a positive number such as '0.1' or '0.4'", key, quoted(v))
	}
}

// allocationKeys are the allocation keys and how Spark reads them.
var allocationKeys = []struct {
	key  string
	kind string // bool, count, ratio, or a duration's default unit
	unit time.Duration
}{
	{sparkconf.KeyDynamicAllocationEnabled, "bool", 0},
	{sparkconf.KeyShuffleTrackingEnabled, "bool", 0},
	{sparkconf.KeyShuffleServiceEnabled, "bool", 0},
	{sparkconf.KeyDecommissionEnabled, "bool", 0},
	{sparkconf.KeyStorageDecommissionEnabled, "bool", 0},
	{sparkconf.KeyStorageDecommissionShuffle, "bool", 0},
	{sparkconf.KeyOffHeapEnabled, "bool", 0},
	{sparkconf.KeyExecutorDeleteOnTerminate, "bool", 0},
	{sparkconf.KeyExecutorInstances, "count", 0},
	{sparkconf.KeyMinExecutors, "count", 0},
	{sparkconf.KeyInitialExecutors, "count", 0},
	{sparkconf.KeyMaxExecutors, "count", 0},
	{sparkconf.KeyExecutorAllocationRatio, "ratio", 0},
	{sparkconf.KeyExecutorIdleTimeout, "duration", time.Second},
	{sparkconf.KeyCachedExecutorIdleTimeout, "duration", time.Second},
	{sparkconf.KeySchedulerBacklogTimeout, "duration", time.Second},
	{sparkconf.KeySustainedSchedulerBacklogTimeout, "duration", time.Second},
	{sparkconf.KeyShuffleTrackingTimeout, "duration", time.Millisecond},
}

// validateAllocation checks each allocation key, then, when dynamic
// allocation is on, the rules Spark's ExecutorAllocationManager enforces.
func validateAllocation(f *findings, job *v1alpha1.SparkJob) {
	props, err := sparkconf.JobProperties(job)
	if err != nil {
		return
	}
	field := func(key string) string { return fieldOf(job, key, confField(key)) }
	bad := false
	for _, k := range allocationKeys {
		v, ok := props[k.key]
		if !ok {
			continue
		}
		before := len(*f)
		switch k.kind {
		case "bool":
			if l := strings.ToLower(strings.TrimSpace(v)); l != "true" && l != "false" {
				f.errorf(RuleInvalidBoolean, field(k.key), "%s is %s: expected true or false", k.key, quoted(v))
			}
		case "count":
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32); err != nil || n < 0 {
				f.errorf(RuleInvalidCount, field(k.key), "%s is %s: expected a whole number of 0 or more", k.key, quoted(v))
			}
		case "ratio":
			if x, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil || !(x > 0 && x <= 1) {
				f.errorf(RuleAllocationRatioRange, field(k.key), "%s is %s: expected a number in (0, 1], such as '0.5' to ask for half the executors the backlog wants", k.key, quoted(v))
			}
		default:
			if _, err := sparkconf.ParseDuration(v, k.unit); err != nil {
				f.errorf(RuleInvalidDuration, field(k.key), "%s is %s: %v", k.key, quoted(v), err)
			}
		}
		bad = bad || len(*f) > before
	}
	if bad {
		return
	}
	a, err := sparkconf.EffectiveAllocation(job)
	if err != nil || !a.Dynamic {
		return
	}
	validateBounds(f, props, a, field)
	if !a.ShuffleMechanism() {
		version := "sparkVersion unset, so the newest Spark's defaults"
		if v := job.Spec.SparkVersion; v != "" {
			version = "sparkVersion " + quoted(v)
		}
		f.errorf(RuleShuffleMechanismMissing, fieldOf(job, sparkconf.KeyShuffleTrackingEnabled, "spec.dynamicAllocation.shuffleTrackingEnabled"),
			"dynamic allocation is on with no way to keep shuffle data (%s: shuffle tracking off, no shuffle service, no decommission shuffle-block migration): Spark refuses to start; set spec.dynamicAllocation.shuffleTrackingEnabled: true",
			version)
	}
	if a.SchedulerBacklogTimeout <= 0 {
		f.errorf(RuleInvalidDuration, field(sparkconf.KeySchedulerBacklogTimeout), "schedulerBacklogTimeout is %s: Spark requires more than 0", sparkconf.FormatDuration(a.SchedulerBacklogTimeout))
	}
}

// validateBounds checks min ≤ initial ≤ max and max > 0.
func validateBounds(f *findings, props map[string]string, a sparkconf.Allocation, field func(string) string) {
	maxField := field(sparkconf.KeyMaxExecutors)
	if a.MaxExecutors != nil {
		maxN := *a.MaxExecutors
		if maxN == 0 {
			f.errorf(RuleExecutorBounds, maxField, "maxExecutors is 0: Spark refuses it; expected at least 1 (and at least minExecutors)")
			return
		}
		if a.MinExecutors > maxN {
			f.errorf(RuleExecutorBounds, field(sparkconf.KeyMinExecutors), "minExecutors %d is above maxExecutors %d: expected min ≤ initial ≤ max", a.MinExecutors, maxN)
			return
		}
		if a.InitialExecutors > maxN {
			f.errorf(RuleExecutorBounds, field(sparkconf.KeyInitialExecutors),
				"the initial executor count %d (the largest of minExecutors, initialExecutors and executor instances) is above maxExecutors %d: expected min ≤ initial ≤ max", a.InitialExecutors, maxN)
		}
	}
	if v, ok := props[sparkconf.KeyInitialExecutors]; ok {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && int32(n) < a.MinExecutors {
			f.errorf(RuleExecutorBounds, field(sparkconf.KeyInitialExecutors), "initialExecutors %d is below minExecutors %d: Spark ignores it; expected min ≤ initial ≤ max", n, a.MinExecutors)
		}
	}
}
