package reconciler

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// TestRunIdentity: the account a job's runs are created as is that of
// the JobSource whose inventory lists the job — never the job's own
// annotation — must be in the job's namespace, and defaults to the
// default account.
func TestRunIdentity(t *testing.T) {
	tests := []struct {
		name       string
		listedBy   []listing
		annotation string
		def        string
		want       string // "" means sparkcd's own identity
		wantErr    string
	}{
		{name: "made by hand, no default", want: ""},
		{name: "made by hand, default", def: "tenant", want: "team-a/tenant"},
		{name: "made by hand, a copied annotation counts for nothing", annotation: "team-a/admin", want: ""},
		{name: "source without account", listedBy: []listing{{source: "team-a/jobs"}}, want: ""},
		{name: "source without account, default", listedBy: []listing{{source: "team-a/jobs"}}, def: "tenant", want: "team-a/tenant"},
		{name: "source account", listedBy: []listing{{source: "team-a/jobs", serviceAccount: "runner"}}, def: "tenant", want: "team-a/runner"},
		{name: "the annotation removed or changed by hand", listedBy: []listing{{source: "team-a/jobs", serviceAccount: "runner"}},
			annotation: "team-a/admin", want: "team-a/runner"},
		{name: "source of another namespace", listedBy: []listing{{source: "team-b/jobs", serviceAccount: "runner"}},
			wantErr: "service account 'team-b/runner' of JobSource 'team-b/jobs' is not in the job's namespace 'team-a'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &JobReconciler{opts: JobOptions{Identity: IdentityOptions{DefaultServiceAccount: tt.def}}}
			job := &v1alpha1.SparkJob{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "pi", Annotations: map[string]string{}}}
			if tt.annotation != "" {
				job.Annotations[AnnotationSourceServiceAccount] = tt.annotation
			}
			ctx, err := r.runIdentity(t.Context(), &reconciliation{job: job, listedBy: tt.listedBy})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrRunIdentityRefused) || !isTerminal(err) {
					t.Fatalf("err = %v, want a terminal %v saying %q", err, ErrRunIdentityRefused, tt.wantErr)
				}
				if got := stallReason(err); got != ReasonRunIdentityRefused {
					t.Errorf("stallReason = %s, want %s", got, ReasonRunIdentityRefused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sa, ok := serviceAccountFrom(ctx)
			got := ""
			if ok {
				got = sa.String()
			}
			if got != tt.want {
				t.Errorf("run identity = %q, want %q", got, tt.want)
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }

// TestRefuseCrossNamespace: with cross-namespace targets refused, the jobs
// and objects for other namespaces are findings, not applied; one of the
// inventory stays in it; the render's cached result is not changed.
func TestRefuseCrossNamespace(t *testing.T) {
	src := &v1alpha1.JobSource{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "jobs"}}
	src.Status.Inventory = []v1alpha1.InventoryRef{{Namespace: "team-b", Name: "old"}}
	job := func(ns, name string) desiredJob {
		return desiredJob{key: types.NamespacedName{Namespace: ns, Name: name},
			job: &v1alpha1.SparkJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{}}}}
	}
	rs := &renderedSource{
		jobs:    []desiredJob{job("team-a", "a"), job("team-b", "b"), job("team-b", "old")},
		objects: []desiredSupport{{ref: v1alpha1.SupportingRef{Kind: "ConfigMap", Namespace: "team-b", Name: "conf"}}},
	}
	for _, refuse := range []bool{false, true} {
		r := &SourceReconciler{opts: SourceOptions{Identity: IdentityOptions{NoCrossNamespaceTargets: refuse}}}
		sc := newSourceReconciliation(src, metav1.Now().Time)
		got := r.refuseCrossNamespace(sc, rs)
		if !refuse {
			if got != rs || sc.identity.reason != "" {
				t.Errorf("allowed: got %+v, notes %+v", got, sc.identity)
			}
			continue
		}
		var names []string
		for _, dj := range got.jobs {
			names = append(names, dj.key.String())
		}
		if diff := cmp.Diff([]string{"team-a/a"}, names); diff != "" {
			t.Errorf("jobs applied (-want +got):\n%s", diff)
		}
		if len(got.objects) != 0 || len(rs.jobs) != 3 || len(rs.objects) != 1 {
			t.Errorf("objects %d (want 0); the cache has %d jobs, %d objects (want 3, 1)", len(got.objects), len(rs.jobs), len(rs.objects))
		}
		if sc.identity.reason != ReasonCrossNamespaceTargetsRefused || sc.identity.count != 3 ||
			!strings.Contains(sc.identity.message, "SparkJob 'b' targets namespace 'team-b'") {
			t.Errorf("notes = %+v", sc.identity)
		}
		if !sc.kept[types.NamespacedName{Namespace: "team-b", Name: "old"}] || sc.kept[types.NamespacedName{Namespace: "team-b", Name: "b"}] {
			t.Errorf("kept = %v, want team-b/old only", sc.kept)
		}
		if len(sc.conflicts) != 3 || sc.conflicts[0].Findings[0].Rule != RuleCrossNamespaceTarget {
			t.Errorf("findings = %+v", sc.conflicts)
		}
	}
}

// TestImpersonationError: a Forbidden to a write sent as a source's
// account names the account, the verb, the kind and the namespace, and
// is still a Forbidden; other errors, and errors of sparkcd's own
// writes, pass as they are.
func TestImpersonationError(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "sparkcd.io", Resource: "sparkjobs"}, "pi", errors.New("no"))
	scheme, err := v1alpha1.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	c := &identityClient{Client: fake.NewClientBuilder().WithScheme(scheme).Build()}
	sa := &serviceAccount{namespace: "team-a", name: "tenant"}
	obj := &v1alpha1.SparkJob{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "pi"}}
	err = c.refused(sa, "delete", obj, forbidden)
	var ie *ImpersonationError
	if !errors.As(err, &ie) || !apierrors.IsForbidden(err) {
		t.Fatalf("err = %#v, want an ImpersonationError that is Forbidden", err)
	}
	want := "service account 'team-a/tenant' may not delete SparkJob 'pi' in namespace 'team-b'"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q, want it to start with %q", err.Error(), want)
	}
	if err := c.refused(nil, "delete", obj, forbidden); err != forbidden {
		t.Errorf("sparkcd's own write: %v", err)
	}
	notFound := apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, "x")
	if err := c.refused(sa, "delete", obj, notFound); err != notFound {
		t.Errorf("not found: %v", err)
	}
}

// TestIdentityTransport: a source's client sends its writes with the
// account in the Impersonate-User header, through the transport of the
// manager's configuration — so through the leader-election fence, which
// refuses them while the Lease is not held — and one client serves each
// account.
func TestIdentityTransport(t *testing.T) {
	scheme, err := v1alpha1.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	mapper := apimeta.NewDefaultRESTMapper(nil)
	mapper.Add(corev1.SchemeGroupVersion.WithKind("ConfigMap"), apimeta.RESTScopeNamespace)
	opts := client.Options{Scheme: scheme, Mapper: mapper}
	sa := serviceAccount{namespace: "team-a", name: "tenant"}
	cm := func() *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "conf"}}
	}

	t.Run("fenced", func(t *testing.T) {
		cfg := &rest.Config{Host: "https://127.0.0.1:1"}
		f := newFence(clocktesting.NewFakePassiveClock(time.Now()), 10*time.Second, logr.Discard())
		cfg.Wrap(f.wrap)
		ids := newIdentities(cfg, opts, IdentityOptions{})
		c, err := ids.client(sa)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Create(t.Context(), cm()); !errors.Is(err, ErrNotLeader) {
			t.Errorf("a write with the fence closed: %v, want %v", err, ErrNotLeader)
		}
	})

	t.Run("impersonated", func(t *testing.T) {
		var users []string
		cfg := &rest.Config{Host: "https://127.0.0.1:1"}
		cfg.Wrap(func(http.RoundTripper) http.RoundTripper {
			return roundTripFunc(func(req *http.Request) (*http.Response, error) {
				users = append(users, req.Header.Get("Impersonate-User"))
				body := `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,` +
					`"message":"configmaps \"conf\" is forbidden","details":{"name":"conf","kind":"configmaps"}}`
				return &http.Response{StatusCode: http.StatusForbidden, Header: http.Header{"Content-Type": {"application/json"}},
					Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
			})
		})
		ic := &identityClient{Client: fake.NewClientBuilder().WithScheme(scheme).Build(), ids: newIdentities(cfg, opts, IdentityOptions{})}
		err := ic.Create(withServiceAccount(t.Context(), sa), cm())
		var ie *ImpersonationError
		if !errors.As(err, &ie) || ie.Kind != "ConfigMap" || ie.Verb != "create" || ie.Namespace != "team-b" {
			t.Errorf("err = %v, want an ImpersonationError creating ConfigMap in team-b", err)
		}
		if diff := cmp.Diff([]string{"system:serviceaccount:team-a:tenant"}, users); diff != "" {
			t.Errorf("Impersonate-User (-want +got):\n%s", diff)
		}
		a, _ := ic.ids.client(sa)
		b, _ := ic.ids.client(sa)
		if a != b {
			t.Error("two clients for one account")
		}
		// Without an account in the context, the write is sparkcd's own.
		if err := ic.Create(t.Context(), cm()); err != nil || len(users) != 1 {
			t.Errorf("sparkcd's own write: %v, %d impersonated requests", err, len(users))
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
