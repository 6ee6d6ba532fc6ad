package reconciler_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// sourceLoop is a running manager with the job loop and the source loop.
type sourceLoop struct {
	writes  *atomic.Int64
	sources *reconciler.SourceReconciler
	client  client.Client
	stop    func()
}

// startSourceLoop starts a manager with both loops on namespaces.
func startSourceLoop(t testing.TB, e *testenv.Env, opts reconciler.SourceOptions, namespaces ...string) *sourceLoop {
	t.Helper()
	mgr, writes := jobLoopManager(t, e, reconciler.JobOptions{}, namespaces)
	if opts.Logger == nil && os.Getenv("SPARKCD_TEST_LOG") == "" {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.CacheDir == "" {
		opts.CacheDir = t.TempDir()
	}
	src, err := reconciler.NewSourceReconciler(mgr, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &sourceLoop{writes: writes, sources: src, client: mgr.GetClient(), stop: runManager(t, mgr)}
}

// jobYAML is testdata/pi.yaml named name, with its arguments.
func jobYAML(t testing.TB, name string, args ...string) string {
	t.Helper()
	job := piJob(t, "", name)
	job.Namespace = ""
	if len(args) > 0 {
		job.Spec.Arguments = args
	}
	job.APIVersion, job.Kind = v1alpha1.GroupVersion.String(), v1alpha1.SparkJobKind
	b, err := yaml.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	// Keep the file to what a person writes.
	s := strings.Replace(string(b), "  creationTimestamp: null\n", "", 1)
	return strings.Replace(s, "status: {}\n", "", 1)
}

// newSource creates a JobSource of the repository at url, path "jobs".
func newSource(t testing.TB, e *testenv.Env, ns, name, url string, mutate ...func(*v1alpha1.JobSource)) *v1alpha1.JobSource {
	t.Helper()
	src := &v1alpha1.JobSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.JobSourceSpec{
			URL: url, Path: "jobs", Prune: true,
			Interval: metav1.Duration{Duration: time.Hour},
			Timeout:  &metav1.Duration{Duration: 10 * time.Second},
		},
	}
	for _, m := range mutate {
		m(src)
	}
	if err := e.Client.Create(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	return src
}

// getSource reads a JobSource.
func getSource(t testing.TB, e *testenv.Env, ns, name string) *v1alpha1.JobSource {
	t.Helper()
	src := &v1alpha1.JobSource{}
	if err := e.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, src); err != nil {
		t.Fatalf("get JobSource '%s/%s': %v", ns, name, err)
	}
	return src
}

// waitSource waits until the JobSource satisfies cond.
func waitSource(t testing.TB, e *testenv.Env, ns, name, what string, cond func(*v1alpha1.JobSource) bool) *v1alpha1.JobSource {
	t.Helper()
	var src *v1alpha1.JobSource
	eventually(t, what, func() (bool, string) {
		src = getSource(t, e, ns, name)
		b, _ := yaml.Marshal(src.Status)
		return cond(src), "status:\n" + string(b)
	})
	return src
}

// sourceReady reports Ready with reason at the revision of commit.
func sourceReady(src *v1alpha1.JobSource, status metav1.ConditionStatus, reason, commit string) bool {
	c := apimeta.FindStatusCondition(src.Status.Conditions, meta.ReadyCondition)
	return c != nil && c.Status == status && c.Reason == reason && strings.HasSuffix(src.Status.LastAttemptedRevision, commit) &&
		c.ObservedGeneration == src.Generation
}

// requestAndWait asks for a reconcile and waits until it is answered.
func requestAndWait(t testing.TB, e *testenv.Env, ns, name string) *v1alpha1.JobSource {
	t.Helper()
	at := time.Now()
	key := types.NamespacedName{Namespace: ns, Name: name}
	if err := reconciler.RequestReconcile(context.Background(), e.Client, key, at); err != nil {
		t.Fatal(err)
	}
	want := at.UTC().Format(time.RFC3339Nano)
	return waitSource(t, e, ns, name, "the reconcile request answered", func(s *v1alpha1.JobSource) bool {
		return s.Status.LastHandledReconcileAt == want
	})
}

// jobNames lists the SparkJobs of ns.
func jobNames(t testing.TB, e *testenv.Env, ns string) []string {
	t.Helper()
	jobs := &v1alpha1.SparkJobList{}
	if err := e.Client.List(context.Background(), jobs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, j := range jobs.Items {
		if j.DeletionTimestamp.IsZero() {
			names = append(names, j.Name)
		}
	}
	return names
}

func short(commit string) string { return fmt.Sprintf("sha1:%s", commit) }
