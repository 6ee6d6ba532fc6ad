package badinput

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sparkcd/sparkcd/render/build"
)

// badJob is one invalid job file of testdata/jobs and what the suite
// expects of it, built as jobs/bad/job.yaml beside the good jobs.
type badJob struct {
	file string
	// job is the name the bad job is reported under ("bad" unless set).
	job string
	// want are the job's error findings, "rule field", sorted.
	want []string
	// message must appear in the job's findings.
	message string
	// buildErr, when set, is a substring of the unit's build error (the
	// job then yields nothing), and errIs its sentinel.
	buildErr string
	errIs    error
	// also are other jobs the file holds that must come out clean.
	also []string
}

var badJobs = []badJob{
	{file: "unknown-field", want: []string{"unknown-field spec.replicas"}, message: "unknown field 'spec.replicas'"},
	{file: "unknown-nested-field", want: []string{"unknown-field spec.driver.memroy"}, message: "did you mean 'memory'?"},
	{file: "duplicate-key", want: []string{"duplicate-field spec.image"}, message: `field 'spec.image' is set twice: line 20: mapping key "image" already defined at line 8`},
	// In a file of several documents, the lines are the file's.
	{file: "multi-document-duplicate-key", want: []string{"duplicate-field spec.image"},
		message: `field 'spec.image' is set twice: line 42: mapping key "image" already defined at line 37`, also: []string{"multi-first", "multi-second"}},
	{file: "multi-document-tab", buildErr: "line 22: found character that cannot start any token", errIs: build.ErrKustomize},
	{file: "wrong-type-cores", want: []string{"invalid-type spec.driver.cores"}, message: "'spec.driver.cores' must be an integer, not a string"},
	{file: "wrong-type-arguments", want: []string{"invalid-type spec.arguments"}, message: "'spec.arguments' must be a list, not the number"},
	{file: "wrong-apiversion", want: []string{"unknown-kind apiVersion"}, message: "apiVersion 'sparkcd.io/v1' and kind 'SparkJob' are not a job sparkcd reads"},
	{file: "wrong-kind", want: []string{"unknown-kind apiVersion"}, message: "kind 'SparkJobs'"},
	{file: "operator-wrong-version", want: []string{"unknown-kind apiVersion"}, message: "apiVersion 'sparkoperator.k8s.io/v1beta1'"},
	// A Spark kind of a group sparkcd does not read is an error naming the
	// file, the line and the apiVersion, never skipped.
	{file: "apache-spark-application", want: []string{"unknown-kind apiVersion"},
		message: "'jobs/bad/job.yaml' line 3: 'spark.apache.org/v1' SparkApplication 'bad' is a SparkApplication of the Apache Spark Kubernetes Operator"},
	{file: "apache-spark-cluster", want: []string{"unknown-kind apiVersion"},
		message: "'jobs/bad/job.yaml' line 2: 'spark.apache.org/v1' SparkCluster 'bad' is a standalone Spark cluster"},
	{file: "fork-spark-application", want: []string{"unknown-kind apiVersion"},
		message: "'jobs/bad/job.yaml' line 3: apiVersion 'sparkoperator.hpe.com/v1beta2' and kind 'SparkApplication' are not a job sparkcd reads"},
	{file: "spark-connect", want: []string{"unsupported-kind apiVersion"},
		message: "'sparkoperator.k8s.io/v1alpha1' SparkConnect 'bad' is not run by sparkcd: a SparkConnect is a long-running Spark Connect server"},
	{file: "missing-name", buildErr: "missing metadata.name", errIs: build.ErrKustomize},
	{file: "invalid-name", job: "Bad_Job", want: []string{"invalid-name metadata.name"}, message: "is not a DNS-1035 label"},
	{file: "name-too-long", job: strings.Repeat("a", 64), want: []string{"name-too-long metadata.name"},
		message: "is too long: 64 characters, at most 63", also: []string{"customer-lifetime-value-aggregation-nightly-backfill-and-report"}},
	{file: "sops-encrypted-job", want: []string{"encrypted-job sops", "unknown-field sops"}, message: "'jobs/bad/job.yaml' is encrypted with sops: a job must be reviewable"},
	{file: "missing-image", want: []string{"required-field spec.image"}, message: "set spec.image"},
	{file: "missing-main-file", want: []string{"required-field spec.mainApplicationFile"}, message: "spec.mainApplicationFile is empty"},
	{file: "unsupported-type", want: []string{"unsupported-type spec.type"}, message: "spec.type is 'Go'"},
	{file: "bad-memory", want: []string{"invalid-memory spec.executor.memory"}, message: "'1 gig' is not a Spark size"},
	{file: "negative-memory", want: []string{"invalid-memory spec.driver.memory"}, message: "'-1g' is not a Spark size"},
	{file: "bad-overhead-factor", want: []string{"invalid-overhead-factor spec.sparkConf[spark.executor.memoryOverheadFactor]"}, message: "is 'lots': expected a positive number"},
	{file: "bad-core-request", want: []string{"invalid-cores spec.driver.coreRequest"}, message: "'lots' is not a cpu quantity"},
	{file: "core-limit-below-request", want: []string{"invalid-cores spec.executor.coreLimit"}, message: "cpu limit 500m is below its cpu request 2"},
	{file: "negative-instances", want: []string{"invalid-count spec.executor.instances"}, message: "spark.executor.instances is '-1'"},
	{file: "bad-instances-conf", want: []string{"invalid-count spec.sparkConf[spark.executor.instances]"}, message: "spark.executor.instances is 'many'"},
	{file: "min-over-max-executors", want: []string{"executor-bounds spec.dynamicAllocation.minExecutors"}, message: "minExecutors 10 is above maxExecutors 2"},
	{file: "initial-over-max-executors", want: []string{"executor-bounds spec.dynamicAllocation.initialExecutors"}, message: "initial executor count 20"},
	{file: "zero-max-executors", want: []string{"executor-bounds spec.dynamicAllocation.maxExecutors"}, message: "maxExecutors is 0"},
	{file: "allocation-ratio-range", want: []string{"allocation-ratio-range spec.dynamicAllocation.executorAllocationRatio"}, message: "is '1.5': expected a number in (0, 1]"},
	{file: "shuffle-mechanism-missing", want: []string{"shuffle-mechanism-missing spec.dynamicAllocation.shuffleTrackingEnabled"}, message: "Spark refuses to start"},
	{file: "bad-idle-timeout", want: []string{"invalid-value spec.dynamicAllocation.executorIdleTimeout"}, message: `invalid duration "forever"`},
	{file: "bad-boolean", want: []string{"invalid-boolean spec.sparkConf[spark.dynamicAllocation.shuffleTracking.enabled]"}, message: "is 'yes': expected true or false"},
	{file: "bad-schedule", want: []string{"invalid-schedule spec.schedule"}, message: "end of range (61) above maximum (59)"},
	{file: "negative-every", want: []string{"invalid-schedule spec.schedule"}, message: "has an interval of zero or less"},
	{file: "schedule-with-time-zone", want: []string{"invalid-schedule spec.schedule"}, message: "move it to spec.timeZone"},
	{file: "bad-time-zone", want: []string{"invalid-time-zone spec.timeZone"}, message: "'Mars/Olympus_Mons' is not an IANA time zone"},
	{file: "reserved-driver-host", want: []string{"managed-spark-conf spec.sparkConf[spark.driver.host]"}, message: "which sparkcd manages"},
	{file: "reserved-bind-address", want: []string{"managed-spark-conf spec.sparkConf[spark.driver.bindAddress]"}, message: "Spark rejects it on Kubernetes"},
	{file: "reserved-app-id", want: []string{"managed-spark-conf spec.sparkConf[spark.app.id]"}, message: "each run gets its own app id"},
	{file: "namespace-mismatch", want: []string{"namespace-mismatch spec.sparkConf[spark.kubernetes.namespace]"}, message: "to 'other' but the job is in namespace 'default'"},
	{file: "image-conflict", want: []string{"image-conflict spec.sparkConf[spark.kubernetes.container.image]"}, message: "set the image in one place"},
	// A credential-like key is a warning: sparkcd cannot tell a secret
	// from a setting named like one, so it does not refuse the job.
	{file: "credentials-in-spark-conf", want: nil},
	{file: "unknown-volume", want: []string{"unknown-volume spec.driver.volumeMounts[0]"}, message: "volume 'data', which is not in spec.volumes"},
	{file: "bad-log-level", want: []string{"invalid-log-level spec.logLevel"}, message: "spec.logLevel is 'LOUD'"},
	{file: "bad-concurrency-policy", want: []string{"invalid-enum spec.concurrencyPolicy"}, message: "expected Allow, Forbid or Replace"},
	{file: "bad-ui-port", want: []string{"invalid-port spec.sparkConf[spark.ui.port]"}, message: "expected a port from 1024 to 65535"},
	{file: "bad-python-version", want: []string{"invalid-python-version spec.pythonVersion"}, message: "Python 3 only"},
	{file: "negative-history-limit", want: []string{"invalid-count spec.successfulRunHistoryLimit"}, message: "is -1: expected 0 or more"},
	{file: "operator-client-mode", want: []string{"unsupported-field spec.mode"}, message: "cluster mode only, not 'client'"},
	{file: "null-spec", want: []string{"required-field spec.image", "required-field spec.mainApplicationFile", "required-field spec.type"}, message: "spec.type is empty"},
	{file: "duplicate-job", buildErr: "SparkJob 'bad' is defined twice in this file: an object (kind, namespace, name) may be defined once in a build", errIs: build.ErrKustomize},
	{file: "bad-next-to-good", want: []string{"unknown-field spec.replicas"}, message: "unknown field 'spec.replicas'", also: []string{"good-c"}},
	{file: "not-a-mapping", buildErr: "missing Resource metadata", errIs: build.ErrKustomize},
	{file: "scalar-document", buildErr: "missing Resource metadata", errIs: build.ErrKustomize},
	{file: "tab-indented", buildErr: "line 6: found character that cannot start any token", errIs: build.ErrKustomize},
	{file: "unclosed-flow", buildErr: "line 5: did not find expected ',' or ']'", errIs: build.ErrKustomize},
	{file: "yaml-bomb", buildErr: "excessive YAML aliasing: its aliases expand its 148 nodes", errIs: build.ErrAliasBomb},
}

// TestBadJobs builds each invalid job file of testdata/jobs beside good
// jobs: the bad one gets exactly its findings (or its unit exactly its
// build error, naming the file), and the good ones come out clean.
func TestBadJobs(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range badJobs {
		seen[tc.file+".yaml"] = true
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/jobs", tc.file+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			root := checkout(t)
			writeFile(t, root, "jobs/bad/job.yaml", string(data))
			checkBadJob(t, root, tc)
		})
	}
	files, err := os.ReadDir("testdata/jobs")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !seen[f.Name()] {
			t.Errorf("testdata/jobs/%s has no case in badJobs", f.Name())
		}
	}
}

// checkBadJob builds root and checks one case.
func checkBadJob(t *testing.T, root string, tc badJob) {
	t.Helper()
	out := buildAndJudge(t, root, nil)
	assertGood(t, out, tc.also...)
	if tc.buildErr != "" {
		assertBuildError(t, out, "jobs/bad/job.yaml", tc.buildErr, tc.errIs)
		if _, ok := out.jobs[jobName(tc)]; ok {
			t.Errorf("the unit did not build, yet job %q came out of it", jobName(tc))
		}
		return
	}
	if len(out.errors) > 0 {
		t.Fatalf("unexpected build errors: %v", out.errors)
	}
	got, ok := out.jobs[jobName(tc)]
	if !ok {
		t.Fatalf("no job %q; jobs: %v", jobName(tc), out.jobs)
	}
	if diff := cmp.Diff(tc.want, got, emptyIsNil); diff != "" {
		t.Errorf("findings (-want +got):\n%s\nmessages:\n%s", diff, out.messages[jobName(tc)])
	}
	if !strings.Contains(out.messages[jobName(tc)], tc.message) {
		t.Errorf("findings do not say %q:\n%s", tc.message, out.messages[jobName(tc)])
	}
}

var emptyIsNil = cmp.Transformer("emptyIsNil", func(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
})

func jobName(tc badJob) string {
	if tc.job != "" {
		return tc.job
	}
	return "bad"
}

// assertGood checks that every good job, and the extra ones, came out of
// the build decoded and without an error finding.
func assertGood(t *testing.T, out outcome, extra ...string) {
	t.Helper()
	for _, name := range append(append([]string(nil), goodJobs...), extra...) {
		got, ok := out.jobs[name]
		if !ok {
			t.Errorf("good job %q was lost; jobs: %v, errors: %v", name, out.jobs, out.errors)
			continue
		}
		if len(got) > 0 {
			t.Errorf("good job %q has findings %v:\n%s", name, got, out.messages[name])
		}
	}
}

// assertBuildError checks that exactly one unit failed, naming file, with
// a message holding want and wrapping errIs.
func assertBuildError(t *testing.T, out outcome, file, want string, errIs error) {
	t.Helper()
	if len(out.errors) != 1 {
		t.Fatalf("got %d build errors, want 1: %v", len(out.errors), out.errors)
	}
	be := out.errors[0]
	if be.Unit != "jobs/bad" || be.File != file {
		t.Errorf("build error of unit %q file %q, want unit 'jobs/bad' file %q: %v", be.Unit, be.File, file, be)
	}
	if !strings.Contains(be.Error(), want) || !strings.HasPrefix(be.Error(), fmt.Sprintf("'%s'", file)) {
		t.Errorf("build error %q does not start with the file %q and say %q", be.Error(), file, want)
	}
	if errIs != nil && !errors.Is(be, errIs) {
		t.Errorf("build error %v does not wrap %v", be, errIs)
	}
}
