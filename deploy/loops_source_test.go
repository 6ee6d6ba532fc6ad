package deploy_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// exerciseSourceLoop fetches three jobs from a private HTTPS repository
// (credentials from a Secret), applies them, and after a commit that
// removes one and a reconcile request sent as sparkcd's webhook sends it,
// prunes that job and orphans its running driver.
func exerciseSourceLoop(t *testing.T, e *testenv.Env, ns string) {
	ctx := t.Context()
	repo := gittest.NewRepo(t)
	names := []string{"pi-a", "pi-b", "pi-c"}
	for _, name := range names {
		repo.WriteFile(t, "jobs/"+name+".yaml", strings.Replace(piJob, "name: pi\n", "name: "+name+"\n", 1))
	}
	first := repo.CommitAndPush(t, "three jobs")
	const token = "tok-deploy-test"
	srv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, gittest.BearerAuth(token)), true)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "jobs-git"},
		Data:       map[string][]byte{"bearerToken": []byte(token), "ca.crt": srv.CAPEM()},
	}
	if err := e.Client.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	// sparkcd may read it: the component grants "jobs-git" by name.
	apply(t, e, componentInto(t, ns, "components/spark-namespace", "components/source-secrets"))
	src := &v1alpha1.JobSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "jobs"},
		Spec: v1alpha1.JobSourceSpec{
			URL: srv.URL(""), Path: "jobs", Prune: true,
			SecretRef: &meta.LocalObjectReference{Name: secret.Name},
			Interval:  metav1.Duration{Duration: time.Hour},
			Timeout:   &metav1.Duration{Duration: 20 * time.Second},
		},
	}
	if err := e.Client.Create(ctx, src); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, e, src, first)
	if got := sparkJobs(t, e, ns); !slices.Equal(got, names) {
		t.Fatalf("SparkJobs = %v, want %v", got, names)
	}

	driver := waitDriver(t, e, ns, "pi-b")
	setPodStatus(t, e, &driver, running)
	repo.Remove(t, "jobs/pi-b.yaml")
	second := repo.CommitAndPush(t, "remove pi-b")

	// The webhook receiver asks for the fetch as sparkcd's pod does.
	sparkcd, err := client.New(asSparkcd(e), client.Options{Scheme: e.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := reconciler.RequestReconcile(ctx, sparkcd, client.ObjectKeyFromObject(src), time.Now()); err != nil {
		t.Fatalf("request a reconcile as sparkcd: %v", err)
	}
	waitApplied(t, e, src, second)
	if got, want := sparkJobs(t, e, ns), []string{"pi-a", "pi-c"}; !slices.Equal(got, want) {
		t.Errorf("SparkJobs after the prune = %v, want %v", got, want)
	}
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(&driver), &driver); err != nil {
		t.Fatalf("the pruned job's running driver: %v", err)
	}
	for _, ref := range driver.OwnerReferences {
		if ref.Kind == v1alpha1.SparkJobKind {
			t.Errorf("the pruned job's running driver still has ownerReference %+v", ref)
		}
	}
}

// waitApplied waits until src is Ready at commit.
func waitApplied(t *testing.T, e *testenv.Env, src *v1alpha1.JobSource, commit string) {
	t.Helper()
	eventually(t, "JobSource '"+src.Name+"' applied at "+commit, func() (bool, string) {
		got := &v1alpha1.JobSource{}
		if err := e.Client.Get(t.Context(), client.ObjectKeyFromObject(src), got); err != nil {
			return false, err.Error()
		}
		c := apimeta.FindStatusCondition(got.Status.Conditions, meta.ReadyCondition)
		ok := c != nil && c.Status == metav1.ConditionTrue && c.Reason == meta.SucceededReason &&
			strings.HasSuffix(got.Status.LastAppliedRevision, commit)
		return ok, fmt.Sprintf("Ready %+v, lastAppliedRevision %q", c, got.Status.LastAppliedRevision)
	})
}

// sparkJobs lists the names of the SparkJobs in ns, sorted.
func sparkJobs(t *testing.T, e *testenv.Env, ns string) []string {
	t.Helper()
	jobs := &v1alpha1.SparkJobList{}
	if err := e.Client.List(t.Context(), jobs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, j := range jobs.Items {
		names = append(names, j.Name)
	}
	slices.Sort(names)
	return names
}
