package badinput

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
)

// TestJobSourceSpecs creates invalid JobSources of testdata/sources: the
// API server refuses each, naming the field, through the CRD's OpenAPI
// validation and strict field validation.
func TestJobSourceSpecs(t *testing.T) {
	e := env.Env(t)
	ns := e.Namespace(t)
	tests := []struct {
		file string
		want []string
	}{
		{file: "ftp-url", want: []string{"spec.url", "should match '^(https?|ssh)://.*$'"}},
		{file: "file-url", want: []string{"spec.url", "should match"}},
		{file: "missing-url", want: []string{"spec.url: Required value"}},
		{file: "short-commit", want: []string{"spec.ref.commit", "should match '^[0-9a-f]{40}$'"}},
		{file: "prune-percent-over-100", want: []string{"spec.maxPrunePercent", "should be less than or equal to 100"}},
		{file: "prune-percent-negative", want: []string{"spec.maxPrunePercent", "should be greater than or equal to 0"}},
		{file: "interval-not-a-duration", want: []string{"spec.interval"}},
		{file: "unknown-field", want: []string{`unknown field "spec.branch"`}},
		{file: "wrong-type-targets", want: []string{"spec.targetNamespaces", "must be of type array"}},
		{file: "secret-ref-without-name", want: []string{"spec.secretRef.name: Required value"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			obj := readObject(t, "testdata/sources/"+tc.file+".yaml")
			obj.SetNamespace(ns)
			err := e.Client.Create(t.Context(), obj, client.DryRunAll, client.FieldValidation("Strict"))
			if err == nil {
				t.Fatal("the API server accepted the JobSource")
			}
			if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
				t.Errorf("error %v is neither Invalid nor BadRequest", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func readObject(t *testing.T, path string) *unstructured.Unstructured {
	t.Helper()
	b := mustRead(t, path)
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(b, &obj.Object); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return obj
}

// jobSource creates a JobSource of url in ns, path "jobs/*", changed by
// mutate.
func jobSource(t *testing.T, e *testenv.Env, ns, name, url string, mutate ...func(*v1alpha1.JobSource)) {
	t.Helper()
	src := &v1alpha1.JobSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.JobSourceSpec{
			URL: url, Path: "jobs/*", Prune: true,
			Interval: metav1.Duration{Duration: time.Hour},
			Timeout:  &metav1.Duration{Duration: 10 * time.Second},
		},
	}
	for _, m := range mutate {
		m(src)
	}
	if err := e.Client.Create(t.Context(), src); err != nil {
		t.Fatal(err)
	}
}

// waitReady waits until the JobSource's Ready condition has status and
// reason, and its message holds every want, and returns the source.
func waitReady(t *testing.T, e *testenv.Env, ns, name string, status metav1.ConditionStatus, reason string, want ...string) *v1alpha1.JobSource {
	t.Helper()
	src := &v1alpha1.JobSource{}
	eventually(t, fmt.Sprintf("JobSource %s Ready=%s %s %q", name, status, reason, want), func() (bool, string) {
		if err := e.Client.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: name}, src); err != nil {
			return false, err.Error()
		}
		b, _ := yaml.Marshal(src.Status)
		c := apimeta.FindStatusCondition(src.Status.Conditions, meta.ReadyCondition)
		if c == nil || c.Status != status || c.Reason != reason || c.ObservedGeneration != src.Generation {
			return false, string(b)
		}
		for _, w := range want {
			if !strings.Contains(c.Message, w) {
				return false, string(b)
			}
		}
		return true, ""
	})
	return src
}

// TestSourceBadSpecs runs `sparkcd serve` with JobSources the API server
// accepts but the source loop cannot use: each gets Ready=False with a
// reason and a message that says what is wrong; a good source beside them
// is applied all the same.
func TestSourceBadSpecs(t *testing.T) {
	e := env.Env(t)
	ns := e.Namespace(t)
	other := e.Namespace(t)
	spark := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "spark"}}
	if err := e.Client.Create(t.Context(), spark); err != nil {
		t.Fatal(err)
	}
	repo := gittest.NewRepo(t)
	writeSourceJobs(t, repo)
	repo.CommitAndPush(t, "good jobs")
	git := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	down := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	down.Stop()
	serve(t, e, nil, ns)

	jobSource(t, e, ns, "good", git.URL(""))
	jobSource(t, e, ns, "path-escape", git.URL(""), func(s *v1alpha1.JobSource) { s.Spec.Path = "../../../../etc" })
	jobSource(t, e, ns, "absolute-path", git.URL(""), func(s *v1alpha1.JobSource) { s.Spec.Path = "/etc" })
	jobSource(t, e, ns, "missing-path", git.URL(""), func(s *v1alpha1.JobSource) { s.Spec.Path = "nothere/*" })
	jobSource(t, e, ns, "unknown-branch", git.URL(""), func(s *v1alpha1.JobSource) { s.Spec.Ref = &v1alpha1.GitRef{Branch: "nope"} })
	jobSource(t, e, ns, "unknown-commit", git.URL(""), func(s *v1alpha1.JobSource) {
		s.Spec.Ref = &v1alpha1.GitRef{Commit: strings.Repeat("0", 40)}
	})
	jobSource(t, e, ns, "unknown-secret", git.URL(""), func(s *v1alpha1.JobSource) { s.Spec.SecretRef = &meta.LocalObjectReference{Name: "nope"} })
	jobSource(t, e, ns, "server-down", down.URL(""))
	jobSource(t, e, ns, "no-repository", strings.TrimSuffix(git.URL(""), gittest.RepoName)+"other.git")
	jobSource(t, e, ns, "other-namespace", git.URL(""), func(s *v1alpha1.JobSource) { s.Spec.TargetNamespaces = []string{other} })

	waitReady(t, e, ns, "good", metav1.ConditionTrue, meta.SucceededReason)
	for _, tc := range []struct {
		name, reason string
		want         []string
		// finding must be the message of every job's finding in
		// status.jobs.
		finding string
	}{
		{name: "path-escape", reason: "BuildFailed", want: []string{"'../../../../etc' is outside the repository root"}},
		{name: "absolute-path", reason: "BuildFailed", want: []string{"'/etc' is outside the repository root"}},
		{name: "missing-path", reason: "BuildFailed", want: []string{"'nothere/*' matches nothing"}},
		{name: "unknown-branch", reason: "GitOperationFailed", want: []string{"nope"}},
		{name: "unknown-commit", reason: "GitOperationFailed", want: []string{strings.Repeat("0", 40)}},
		{name: "unknown-secret", reason: "AuthenticationFailed", want: []string{"Secret '" + ns + "/nope' of spec.secretRef does not exist"}},
		{name: "server-down", reason: "GitOperationFailed", want: []string{"connection refused"}},
		{name: "no-repository", reason: "GitOperationFailed", want: []string{"repository not found"}},
		{name: "other-namespace", reason: "JobsRejected", want: []string{"0 SparkJobs in sync, 2 jobs rejected (see status.jobs)"},
			finding: "namespace '" + ns + "' is not one of the source's target namespaces ('" + other + "')"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := waitReady(t, e, ns, tc.name, metav1.ConditionFalse, tc.reason, tc.want...)
			if tc.finding == "" {
				return
			}
			if len(src.Status.Jobs) != len(goodJobs) {
				t.Fatalf("status.jobs has %d jobs, want %d", len(src.Status.Jobs), len(goodJobs))
			}
			for _, j := range src.Status.Jobs {
				if len(j.Findings) != 1 || j.Findings[0].Message != tc.finding || j.Findings[0].Field != "metadata.namespace" {
					t.Errorf("job %s: findings %+v, want one on metadata.namespace saying %q", j.Name, j.Findings, tc.finding)
				}
			}
		})
	}
	checkKustomizeMistakes(t, e, ns, git.URL(""))
	// The good source's jobs were applied; the bad ones added nothing.
	jobs := &v1alpha1.SparkJobList{}
	if err := e.Client.List(t.Context(), jobs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, j := range jobs.Items {
		names = append(names, j.Name+" from "+j.Annotations["sparkcd.io/source"])
	}
	want := fmt.Sprintf("[good-a from %s/good good-b from %s/good]", ns, ns)
	if fmt.Sprint(names) != want {
		t.Errorf("SparkJobs %v, want %s", names, want)
	}
}

// kustomizeMistakes are the kustomize mistakes people make every day
// (issue 18 item 4) and the start of the BuildFailed message each gets: a
// missing resource, one object in two files, a patch that matches nothing.
var kustomizeMistakes = []struct {
	dir   string
	files map[string]string
	want  string
}{
	{dir: "missing", files: map[string]string{"job.yaml": goodJob("miss"), "kustomization.yaml": "resources:\n- job.yaml\n- missing.yaml\n"},
		want: "build failed: 'broken/missing/kustomization.yaml' (building 'broken/missing'): resources[1]: 'missing.yaml' does not exist"},
	{dir: "twice", files: map[string]string{"a.yaml": goodJob("twice"), "b.yaml": goodJob("twice"), "kustomization.yaml": "resources:\n- a.yaml\n- b.yaml\n"},
		want: "build failed: 'broken/twice/kustomization.yaml' (building 'broken/twice'): resources[1] 'b.yaml' defines SparkJob 'twice', which 'broken/twice/a.yaml' already defines"},
	{dir: "patch", files: map[string]string{"job.yaml": goodJob("patched"), "kustomization.yaml": "resources:\n- job.yaml\npatches:\n- path: patch.yaml\n",
		"patch.yaml": "apiVersion: sparkcd.io/v1alpha1\nkind: SparkJob\nmetadata:\n  name: pached\nspec:\n  image: x\n"},
		want: "build failed: 'broken/patch/kustomization.yaml' (building 'broken/patch'): patches[0] 'patch.yaml' patches SparkJob 'pached', which is not in this build"},
}

// writeSourceJobs writes the good jobs under jobs/ and the kustomize
// mistakes under broken/.
func writeSourceJobs(t *testing.T, repo *gittest.Repo) {
	for _, name := range goodJobs {
		repo.WriteFile(t, "jobs/"+name+"/job.yaml", goodJob(name))
	}
	for _, m := range kustomizeMistakes {
		for name, body := range m.files {
			repo.WriteFile(t, "broken/"+m.dir+"/"+name, body)
		}
	}
}

// checkKustomizeMistakes creates a JobSource of url per kustomize mistake
// and waits for its BuildFailed message, clean.
func checkKustomizeMistakes(t *testing.T, e *testenv.Env, ns, url string) {
	for _, m := range kustomizeMistakes {
		jobSource(t, e, ns, "kustomize-"+m.dir, url, func(s *v1alpha1.JobSource) { s.Spec.Path = "broken/" + m.dir })
	}
	for _, m := range kustomizeMistakes {
		t.Run("kustomize-"+m.dir, func(t *testing.T) {
			assertCleanStall(t, waitReady(t, e, ns, "kustomize-"+m.dir, metav1.ConditionFalse, "BuildFailed", m.want))
		})
	}
}

// assertCleanStall: a source that cannot be built is Stalled with the
// Ready message, which names repository files only — no cache directory,
// no checkout path, no kustomize chain.
func assertCleanStall(t *testing.T, src *v1alpha1.JobSource) {
	t.Helper()
	ready := apimeta.FindStatusCondition(src.Status.Conditions, meta.ReadyCondition)
	stalled := apimeta.FindStatusCondition(src.Status.Conditions, meta.StalledCondition)
	if stalled == nil || stalled.Status != metav1.ConditionTrue || stalled.Reason != ready.Reason || stalled.Message != ready.Message {
		t.Errorf("Stalled %+v, want True with Ready's reason and message %q", stalled, ready.Message)
	}
	for _, bad := range []string{"checkouts/", "/tmp", ".cache", "accumulat", "must build at directory", "\n"} {
		if strings.Contains(ready.Message, bad) {
			t.Errorf("Ready message shows %q: %s", bad, ready.Message)
		}
	}
}
