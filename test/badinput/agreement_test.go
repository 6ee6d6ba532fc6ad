package badinput

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/render/build"
)

// corpus is one set of job files the agreement test runs, each file in its
// own kustomize unit below corpus/<name>/.
type corpus struct {
	name  string
	files []string
}

// verdict is what one part of sparkcd says of one job: admitted, or
// refused with these error rules. A unit that does not build is keyed by
// its file.
type verdict struct {
	refused bool
	rules   []string
}

func (v verdict) String() string {
	if !v.refused {
		return "admitted"
	}
	return "refused " + strings.Join(v.rules, ",")
}

// TestOneJudge runs every job of the bad-input corpora (this package's and
// admission's), the materialisation goldens and the examples through
// `sparkcd check -o json`, through the source loop of `sparkcd serve` and,
// for every job that decodes, through its job loop, on the real API
// server: each job gets the same verdict from all three — admitted, or
// refused with the same rule ids.
func TestOneJudge(t *testing.T) {
	e := env.Env(t)
	corpora := []corpus{
		{name: "badinput", files: glob(t, "testdata/jobs/*.yaml")},
		{name: "admission", files: glob(t, "../../admission/testdata/invalid/*.yaml")},
		{name: "golden", files: slices.Concat(
			glob(t, "../../render/materialize/testdata/materialize/*.job.yaml"),
			glob(t, "../../render/build/testdata/build/operator/*.yaml"),
			glob(t, "../../jobs/examples/base/*/job.yaml"),
			glob(t, "testdata/agreement/*.yaml"))},
	}
	repo := gittest.NewRepo(t)
	namespaces := map[string]string{}
	for _, c := range corpora {
		ns := e.Namespace(t)
		namespaces[c.name] = ns
		for i, file := range c.files {
			unit := fmt.Sprintf("corpus/%s/u%02d", c.name, i)
			repo.WriteFile(t, unit+"/job.yaml", string(mustRead(t, file)))
			repo.WriteFile(t, unit+"/kustomization.yaml", fmt.Sprintf("namespace: %s\nnamePrefix: u%02d-\nresources:\n- job.yaml\n", ns, i))
		}
	}
	commit := repo.CommitAndPush(t, "the corpora")
	direct := e.Namespace(t)
	all := append(slices.Collect(maps.Values(namespaces)), direct)
	for _, ns := range all {
		if err := e.Client.Create(t.Context(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "spark"}}); err != nil {
			t.Fatal(err)
		}
	}
	git := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	serve(t, e, nil, all...)

	compared := 0
	for _, c := range corpora {
		ns := namespaces[c.name]
		path := "corpus/" + c.name + "/*"
		jobSource(t, e, ns, "jobs", git.URL(""), func(s *v1alpha1.JobSource) { s.Spec.Path = path })
		cli := cliVerdicts(t, repo.Work, path)
		src := sourceVerdicts(t, e, ns, commit)
		loop := jobLoopVerdicts(t, e, repo.Work, path, direct)
		compared += compareVerdicts(t, c.name, cli, src, loop)
	}
	t.Logf("%d verdicts compared across check, the source loop and the job loop", compared)
}

// compareVerdicts fails on every job whose verdicts differ, and returns how
// many jobs it compared.
func compareVerdicts(t *testing.T, name string, cli, src, loop map[string]verdict) int {
	t.Helper()
	keys := map[string]bool{}
	for k := range cli {
		keys[k] = true
	}
	for k := range src {
		keys[k] = true
	}
	n := 0
	for k := range keys {
		n++
		c, s := cli[k], src[k]
		if c.String() != s.String() {
			t.Errorf("%s: %s: check says %s, the source loop %s", name, k, c, s)
		}
		l, ok := loop[k]
		if !ok {
			continue
		}
		// The job loop lists at most five findings; the API server may
		// refuse a job before the loop sees it (rule "api-server").
		if l.refused != c.refused || (!slices.Contains(l.rules, "api-server") && !subset(l.rules, c.rules)) {
			t.Errorf("%s: %s: check says %s, the job loop %s", name, k, c, l)
		}
	}
	if n == 0 {
		t.Errorf("%s: no verdicts", name)
	}
	return n
}

// cliVerdicts runs `sparkcd check -o json` on path.
func cliVerdicts(t *testing.T, root, path string) map[string]verdict {
	t.Helper()
	code, stdout, stderr := runCLI(t, root, "check", "-o", "json", path)
	if code != 0 && code != 1 {
		t.Fatalf("check %s: exit %d\n%s\n%s", path, code, stdout, stderr)
	}
	var out struct {
		Jobs []struct {
			Name     string             `json:"name"`
			Source   string             `json:"source"`
			Findings []v1alpha1.Finding `json:"findings"`
		} `json:"jobs"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("check -o json: %v\n%s", err, stdout)
	}
	got := map[string]verdict{}
	for _, j := range out.Jobs {
		got[verdictKey(j.Name, j.Source)] = verdictOf(j.Findings)
	}
	return got
}

// sourceVerdicts reads the source loop's verdicts once it has attempted
// commit: status.jobs for the jobs with findings, the applied SparkJobs
// for the others.
func sourceVerdicts(t *testing.T, e *testenv.Env, ns, commit string) map[string]verdict {
	t.Helper()
	var src *v1alpha1.JobSource
	eventually(t, "revision "+commit+" attempted in "+ns, func() (bool, string) {
		src = &v1alpha1.JobSource{}
		if err := e.Client.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: "jobs"}, src); err != nil {
			return false, err.Error()
		}
		return strings.HasSuffix(src.Status.LastAttemptedRevision, commit), src.Status.LastAttemptedRevision
	})
	got := map[string]verdict{}
	for _, jf := range src.Status.Jobs {
		got[verdictKey(jf.Name, jf.Source)] = verdictOf(jf.Findings)
	}
	list := &v1alpha1.SparkJobList{}
	if err := e.Client.List(t.Context(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, j := range list.Items {
		if _, ok := got[j.Name]; !ok {
			got[j.Name] = verdict{}
		}
	}
	return got
}

// jobLoopVerdicts creates every job that decodes from path, as built, in
// namespace direct (no source), and reads the job loop's verdict: Stalled
// with the rules of its message, or reconciled.
func jobLoopVerdicts(t *testing.T, e *testenv.Env, root, path, direct string) map[string]verdict {
	t.Helper()
	res, err := build.Build(t.Context(), root, path, build.DefaultBuildOptions())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]verdict{}
	var created []*v1alpha1.SparkJob
	for i := range res.Jobs {
		j := res.Jobs[i].Object
		if j == nil || slices.ContainsFunc(res.Jobs[i].Findings, isError) {
			continue
		}
		job := &v1alpha1.SparkJob{ObjectMeta: metav1.ObjectMeta{Namespace: direct, Name: j.Name, Labels: j.Labels}, Spec: *j.Spec.DeepCopy()}
		err := e.Client.Create(t.Context(), job)
		switch {
		case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
			got[j.Name] = verdict{refused: true, rules: []string{"api-server"}}
			continue
		case err != nil:
			t.Fatalf("create %s: %v", j.Name, err)
		}
		created = append(created, job)
	}
	for _, job := range created {
		got[job.Name] = waitJobVerdict(t, e, job)
	}
	return got
}

// ruleInMessage finds the rule ids a Stalled message names.
var ruleInMessage = regexp.MustCompile(`rule '([^']+)'`)

func waitJobVerdict(t *testing.T, e *testenv.Env, job *v1alpha1.SparkJob) verdict {
	t.Helper()
	var v verdict
	eventually(t, "the job loop's verdict on "+job.Name, func() (bool, string) {
		got := &v1alpha1.SparkJob{}
		if err := e.Client.Get(t.Context(), types.NamespacedName{Namespace: job.Namespace, Name: job.Name}, got); err != nil {
			return false, err.Error()
		}
		c := apimeta.FindStatusCondition(got.Status.Conditions, meta.StalledCondition)
		if c != nil && c.Status == metav1.ConditionTrue && (c.Reason == reconciler.ReasonValidationFailed || c.Reason == reconciler.ReasonPolicyViolation) {
			v = verdict{refused: true}
			for _, m := range ruleInMessage.FindAllStringSubmatch(c.Message, -1) {
				v.rules = append(v.rules, m[1])
			}
			sort.Strings(v.rules)
			v.rules = slices.Compact(v.rules)
			return true, ""
		}
		v = verdict{}
		// Past admission: reconciled, or waiting for the driver's account.
		if r := apimeta.FindStatusCondition(got.Status.Conditions, meta.ReadyCondition); r != nil && r.ObservedGeneration == got.Generation &&
			(r.Reason == reconciler.ReasonServiceAccountNotFound || r.Reason == reconciler.ReasonDriverForbidden) {
			return true, ""
		}
		return got.Status.ObservedGeneration == got.Generation, fmt.Sprintf("observed generation %d of %d, conditions %v", got.Status.ObservedGeneration, got.Generation, got.Status.Conditions)
	})
	return v
}

func verdictKey(name, source string) string {
	if name == "" {
		return "file " + source
	}
	return name
}

func verdictOf(findings []v1alpha1.Finding) verdict {
	var v verdict
	for _, f := range findings {
		if isError(f) {
			v.refused = true
			v.rules = append(v.rules, f.Rule)
		}
	}
	sort.Strings(v.rules)
	v.rules = slices.Compact(v.rules)
	return v
}

func isError(f v1alpha1.Finding) bool { return f.Severity == v1alpha1.SeverityError }

func subset(small, big []string) bool {
	for _, s := range small {
		if !slices.Contains(big, s) {
			return false
		}
	}
	return true
}

func glob(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && !st.IsDir() {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no files match %s", pattern)
	}
	return out
}
