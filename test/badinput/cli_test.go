package badinput

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sparkcd/sparkcd/internal/gittest"
)

// TestCLIExitCodes runs the sparkcd binary on bad input: 1 for findings,
// 2 for input that cannot be read or built, each with a message naming
// the file, the job and the field; every case ends within its bound.
func TestCLIExitCodes(t *testing.T) {
	root := cliFixture(t)
	tests := []cliCase{
		{name: "check findings", args: []string{"check", "jobs/bad"}, code: 1,
			stdout: []string{"FAIL default/bad  (jobs/bad/job.yaml)", "unknown-field: spec.driver.memroy", "did you mean 'memory'?"}},
		// check refuses what render (and the cluster) cannot make, with the
		// same rule and field.
		{name: "check GPU without vendor", args: []string{"check", "gpu"}, code: 1,
			stdout: []string{"FAIL default/gpu-pi", "not-materializable: spec.sparkConf[spark.driver.resource.gpu.vendor]"}},
		{name: "render GPU without vendor", args: []string{"render", "gpu"}, code: 1,
			stderr: []string{"FAIL default/gpu-pi", "not-materializable: spec.sparkConf[spark.driver.resource.gpu.vendor]", "1 job not rendered"}},
		{name: "check -o json of nothing buildable", args: []string{"check", "-o", "json", "nothere"}, code: 2,
			stdout: []string{`"jobs": []`, `"error": "PATH 'nothere' does not exist: check the path`}},
		{name: "render findings", args: []string{"render", "jobs/bad"}, code: 1,
			stderr: []string{"FAIL default/bad  (jobs/bad/job.yaml)", "unknown-field: spec.driver.memroy", "1 job not rendered"}},
		{name: "check good", args: []string{"check", "jobs/good-a"}, code: 0, stdout: []string{"ok   default/good-a"}},
		{name: "malformed YAML", args: []string{"check", "broken/one"}, code: 2,
			stderr: []string{"'broken/one/job.yaml'", "line 6: found character that cannot start any token"}},
		// As the source loop does, the unit that does not build is a
		// finding and the others are judged all the same.
		{name: "glob with one broken unit", args: []string{"check", "broken/*"}, code: 1,
			stdout: []string{"FAIL broken/one/job.yaml", "build-failed", "'broken/one/job.yaml' (building 'broken/one')", "ok   default/two"}},
		{name: "glob with every unit broken", args: []string{"check", "broken/o*"}, code: 2,
			stderr: []string{"'broken/one/job.yaml' (building 'broken/one')"}, notInAny: []string{"broken/two"}},
		{name: "yaml bomb", args: []string{"render", "bomb"}, code: 2,
			stderr: []string{"'bomb/job.yaml'", "excessive YAML aliasing"}},
		{name: "path escape", args: []string{"check", "escape"}, code: 2,
			stderr:   []string{"'escape/kustomization.yaml'", "resources entry '../../../../../../../../etc/passwd'", "outside the repository root"},
			notInAny: []string{"root:x:0:0"}},
		{name: "remote base", args: []string{"check", "remote"}, code: 2,
			stderr: []string{"'remote/kustomization.yaml'", "is remote: remote bases are not allowed"}},
		// The kustomization that lists a missing resource is blamed, with
		// its entry, and no kustomize chain or absolute path (issue 18).
		{name: "missing kustomize resource", args: []string{"check", "missing"}, code: 2,
			stderr:   []string{"sparkcd: input cannot be built: 'missing/kustomization.yaml' (building 'missing'): resources[1]: 'missing.yaml' does not exist\n"},
			notInAny: []string{"accumulat", "must build at directory", "missing/job.yaml", "/tmp/", "stat "}},
		// One object in two files, and a patch that matches nothing: the
		// kustomization, its entry and the object (issue 18 item 4).
		{name: "object in two files", args: []string{"check", "twice"}, code: 2,
			stderr:   []string{"sparkcd: input cannot be built: 'twice/kustomization.yaml' (building 'twice'): resources[1] 'b.yaml' defines SparkJob 'twice', which 'twice/a.yaml' already defines: an object (kind, namespace, name) may be defined once in a build: remove one, or give them different names\n"},
			notInAny: []string{"accumulat", "must build at directory", "/tmp/", "registered id"}},
		{name: "render of an object in two files", args: []string{"render", "twice"}, code: 2,
			stderr: []string{"'twice/kustomization.yaml' (building 'twice'): resources[1] 'b.yaml' defines SparkJob 'twice'"}, notInAny: []string{"accumulat"}},
		{name: "patch that matches nothing", args: []string{"check", "patch"}, code: 2,
			stderr:   []string{"sparkcd: input cannot be built: 'patch/kustomization.yaml' (building 'patch'): patches[0] 'patch.yaml' patches SparkJob 'pached', which is not in this build: check the patch's kind, name and namespace against the resources it builds on\n"},
			notInAny: []string{"no matches for Id", "failed to find unique target", "/tmp/"}},
		{name: "path outside the root", args: []string{"check", "--root", ".", "../"}, code: 2, stderr: []string{"'../' is outside the root"}},
		{name: "missing path", args: []string{"check", "nothere"}, code: 2, stderr: []string{"PATH 'nothere' does not exist: check the path"}},
		{name: "bad policy file", args: []string{"check", "jobs/good-a", "--policies", mustAbs(t, "testdata/policies/unknown-field.yaml")}, code: 2,
			stderr: []string{"unknown-field.yaml': policy 'bad': field 'spec.rules.maxExecutor': unknown field"}},
		{name: "bad revision", args: []string{"diff", "--from", "does-not-exist", "jobs/good-a"}, code: 2,
			stderr: []string{"unable to resolve revision 'does-not-exist'"}},
		{name: "usage", args: []string{"check"}, code: 2, stderr: []string{"accepts 1 arg(s), received 0"}},
		// The namespace's Pod Security level, given offline, refuses what
		// the API server would; the job and the field are named.
		{name: "pod security baseline", args: []string{"check", "podsec", "--pod-security-level", "baseline"}, code: 1,
			stdout: []string{"FAIL default/bad  (podsec/job.yaml)", "pod-security: spec.driver: this job would be refused by the namespace's `baseline` level: hostPath volumes (volume \"root\") in the driver pod"}},
		{name: "pod security render", args: []string{"render", "podsec", "--pod-security-level", "restricted:v1.36"}, code: 1,
			stderr: []string{"FAIL default/bad  (podsec/job.yaml)", "`restricted:v1.36` level: restricted volume types", "1 job not rendered"}},
		{name: "pod security privileged", args: []string{"check", "podsec", "--pod-security-level", "privileged"}, code: 0, stdout: []string{"ok   default/bad"}},
		{name: "pod rules policy", args: []string{"check", "podsec", "--policies", mustAbs(t, "testdata/podsecurity-policy")}, code: 1,
			stdout: []string{"host-path-forbidden: spec.volumes[0].hostPath: volume 'root' mounts the node's path '/'", "image-registry: spec.image"}},
		{name: "bad pod security level", args: []string{"check", "podsec", "--pod-security-level", "strict"}, code: 2,
			stderr: []string{"pod security level 'strict' is not privileged, baseline or restricted"}},
	}
	runCLICases(t, root, tests)
}

// TestCLIDecodeExitCodes runs the binary on objects sparkcd does not read
// and on multi-document files: a Spark kind of another group is never
// "0 jobs" — check and render both fail, naming the file, the line and the
// apiVersion — and lines are those of the file.
func TestCLIDecodeExitCodes(t *testing.T) {
	runCLICases(t, cliFixture(t), []cliCase{
		{name: "check foreign SparkApplication", args: []string{"check", "foreign/apache.yaml"}, code: 1,
			stdout: []string{"FAIL default/bad  (foreign/apache.yaml)", "unknown-kind: apiVersion: 'foreign/apache.yaml' line 3: 'spark.apache.org/v1' SparkApplication 'bad'",
				"sparkoperator.k8s.io/v1beta2", "1 job, 1 error"}},
		{name: "render foreign SparkApplication", args: []string{"render", "foreign/apache.yaml"}, code: 1,
			stderr: []string{"FAIL default/bad  (foreign/apache.yaml)", "unknown-kind", "1 job not rendered"}},
		{name: "check vendor fork", args: []string{"check", "foreign/fork.yaml"}, code: 1,
			stdout: []string{"unknown-kind: apiVersion: 'foreign/fork.yaml' line 3: apiVersion 'sparkoperator.hpe.com/v1beta2' and kind 'SparkApplication'"}},
		{name: "check SparkConnect", args: []string{"check", "foreign/connect.yaml"}, code: 1,
			stdout: []string{"unsupported-kind: apiVersion: 'foreign/connect.yaml' line 3:", "long-running Spark Connect server"}},
		{name: "render SparkCluster", args: []string{"render", "foreign/cluster.yaml"}, code: 1,
			stderr: []string{"unknown-kind", "standalone Spark cluster", "1 job not rendered"}},
		{name: "check multi-document lines", args: []string{"check", "-o", "github", "multi"}, code: 1,
			stdout: []string{"::error file=multi/jobs.yaml,line=42,title=duplicate-field (default/bad)::spec.image: field 'spec.image' is set twice: line 42"}},
		{name: "multi-document syntax error", args: []string{"check", "multitab"}, code: 2,
			stderr: []string{"'multitab/jobs.yaml'", "line 22: found character that cannot start any token"}},
	})
}

// cliCase is one run of the binary and what it must exit with and say.
type cliCase struct {
	name     string
	args     []string
	code     int
	stdout   []string
	stderr   []string
	notInAny []string
}

// runCLICases runs each case in root.
func runCLICases(t *testing.T, root string, tests []cliCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, stdout, stderr := runCLI(t, root, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout does not say %q:\n%s", w, stdout)
				}
			}
			for _, w := range tc.stderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr)
				}
			}
			for _, w := range tc.notInAny {
				if strings.Contains(stdout+stderr, w) {
					t.Errorf("output says %q", w)
				}
			}
			t.Logf("exit %d in %s", code, time.Since(start).Round(time.Millisecond))
		})
	}
}

// cliFixture is a git work tree holding the bad inputs TestCLIExitCodes
// runs the binary on.
func cliFixture(t *testing.T) string {
	root := checkout(t)
	gittest.Run(t, root, "init", "-q", "-b", "main")
	copyFile := func(src, dst string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, root, dst, string(b))
	}
	copyFile("testdata/jobs/unknown-nested-field.yaml", "jobs/bad/job.yaml")
	copyFile("testdata/jobs/tab-indented.yaml", "broken/one/job.yaml")
	copyFile("testdata/jobs/yaml-bomb.yaml", "bomb/job.yaml")
	copyDir(t, "testdata/kustomize/path-escape-resource", root, "escape")
	copyDir(t, "testdata/kustomize/remote-base-https", root, "remote")
	writeFile(t, root, "broken/two/job.yaml", goodJob("two"))
	writeFile(t, root, "missing/job.yaml", goodJob("miss"))
	writeFile(t, root, "missing/kustomization.yaml", "resources:\n- job.yaml\n- missing.yaml\n")
	writeFile(t, root, "twice/a.yaml", goodJob("twice"))
	writeFile(t, root, "twice/b.yaml", goodJob("twice"))
	writeFile(t, root, "twice/kustomization.yaml", "resources:\n- a.yaml\n- b.yaml\n")
	writeFile(t, root, "patch/job.yaml", goodJob("patched"))
	writeFile(t, root, "patch/patch.yaml", "apiVersion: sparkcd.io/v1alpha1\nkind: SparkJob\nmetadata:\n  name: pached\nspec:\n  image: x\n")
	writeFile(t, root, "patch/kustomization.yaml", "resources:\n- job.yaml\npatches:\n- path: patch.yaml\n")
	copyFile("testdata/agreement/gpu-without-vendor.yaml", "gpu/job.yaml")
	copyFile("testdata/jobs/apache-spark-application.yaml", "foreign/apache.yaml")
	copyFile("testdata/jobs/fork-spark-application.yaml", "foreign/fork.yaml")
	copyFile("testdata/jobs/spark-connect.yaml", "foreign/connect.yaml")
	copyFile("testdata/jobs/apache-spark-cluster.yaml", "foreign/cluster.yaml")
	copyFile("testdata/jobs/multi-document-duplicate-key.yaml", "multi/jobs.yaml")
	copyFile("testdata/jobs/multi-document-tab.yaml", "multitab/jobs.yaml")
	copyFile("testdata/podsecurity/host-path-root.yaml", "podsec/job.yaml")
	return root
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
