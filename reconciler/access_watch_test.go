package reconciler

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// fakeAuthorizer answers SubjectAccessReviews from allowed, counts them,
// and runs during, when set, while it answers.
type fakeAuthorizer struct {
	allowed map[string]bool // namespace → allowed
	reviews int
	during  func()
}

// newTestAccess is an accessReview over a fake client that holds the
// service account "spark" in namespaces a and b, on a fake clock.
func newTestAccess(t *testing.T) (*accessReview, *fakeAuthorizer, *clocktesting.FakeClock) {
	t.Helper()
	authz := &fakeAuthorizer{allowed: map[string]bool{}}
	c := fake.NewClientBuilder().
		WithObjects(
			&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "spark"}},
			&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "b", Name: "spark"}},
		).
		WithInterceptorFuncs(interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			sar, ok := obj.(*authorizationv1.SubjectAccessReview)
			if !ok {
				return c.Create(ctx, obj, opts...)
			}
			authz.reviews++
			if authz.during != nil {
				authz.during()
			}
			sar.Status.Allowed = authz.allowed[sar.Spec.ResourceAttributes.Namespace]
			return nil
		}}).
		Build()
	clk := clocktesting.NewFakeClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	return newAccessReview(c, true, clk), authz, clk
}

func testJob(ns, name string) *v1alpha1.SparkJob {
	return &v1alpha1.SparkJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

// checkReviews checks job and returns its wait reason ("" when it may
// start) and how many SubjectAccessReviews that took.
func checkReviews(t *testing.T, a *accessReview, authz *fakeAuthorizer, job *v1alpha1.SparkJob) (string, time.Duration, int) {
	t.Helper()
	before := authz.reviews
	w, err := a.check(context.Background(), job, "spark")
	if err != nil {
		t.Fatal(err)
	}
	if w == nil {
		return "", 0, authz.reviews - before
	}
	return w.reason, w.retry, authz.reviews - before
}

// TestAccessForget: an RBAC change drops the denials of its scope only,
// keeps every grant, and returns the jobs waiting there.
func TestAccessForget(t *testing.T) {
	a, authz, clk := newTestAccess(t)
	authz.allowed["b"] = true
	jobA, jobB := testJob("a", "pi"), testJob("b", "pi")
	if reason, _, n := checkReviews(t, a, authz, jobA); reason != ReasonDriverForbidden || n != 1 {
		t.Fatalf("a: %q after %d reviews, want DriverForbidden after 1", reason, n)
	}
	if reason, _, n := checkReviews(t, a, authz, jobB); reason != "" || n != len(driverNeeds) {
		t.Fatalf("b: %q after %d reviews, want allowed after %d", reason, n, len(driverNeeds))
	}
	// The steady state: both answers come from memory.
	for _, job := range []*v1alpha1.SparkJob{jobA, jobB} {
		if _, _, n := checkReviews(t, a, authz, job); n != 0 {
			t.Errorf("%s: %d reviews, want the remembered answer", job.Namespace, n)
		}
	}

	clk.Step(time.Hour) // past rbacSettle, and past the grant's TTL
	if _, _, n := checkReviews(t, a, authz, jobB); n != len(driverNeeds) {
		t.Fatalf("b: %d reviews after the grant expired, want %d", n, len(driverNeeds))
	}
	if diff := cmp.Diff([]types.NamespacedName(nil), a.forget("b")); diff != "" {
		t.Errorf("forget(b) woke (-want +got):\n%s", diff)
	}
	if _, _, n := checkReviews(t, a, authz, jobB); n != 0 {
		t.Errorf("b: %d reviews after an RBAC change, want the grant kept", n)
	}
	if diff := cmp.Diff([]types.NamespacedName{{Namespace: "a", Name: "pi"}}, a.forget("")); diff != "" {
		t.Errorf("forget of the cluster woke (-want +got):\n%s", diff)
	}
	authz.allowed["a"] = true
	if reason, _, _ := checkReviews(t, a, authz, jobA); reason != "" {
		t.Fatalf("a: %q after the grant, want allowed", reason)
	}
	if got := a.forget(""); len(got) != 0 {
		t.Errorf("forget woke %v, want nobody: the job may start", got)
	}
}

// TestAccessSettle: a denial answered just after an RBAC change, or while
// one lands, is not trusted for deniedTTL.
func TestAccessSettle(t *testing.T) {
	a, authz, clk := newTestAccess(t)
	job := testJob("a", "pi")
	a.forget("a")
	clk.Step(time.Second / 2)
	reason, retry, n := checkReviews(t, a, authz, job)
	if reason != ReasonDriverForbidden || n != 1 || retry != rbacRecheck {
		t.Fatalf("%q after %d reviews, retry %s; want DriverForbidden after 1, retry %s", reason, n, retry, rbacRecheck)
	}
	if _, _, n := checkReviews(t, a, authz, job); n != 0 {
		t.Errorf("%d reviews within rbacRecheck, want the remembered answer", n)
	}
	clk.Step(rbacRecheck)
	if _, _, n := checkReviews(t, a, authz, job); n != 1 {
		t.Errorf("%d reviews after rbacRecheck, want 1", n)
	}

	// A change while the review runs: its denial is not remembered.
	clk.Step(time.Hour)
	a.forget("a")
	clk.Step(time.Hour)
	authz.during = func() { a.forget("") }
	reason, retry, _ = checkReviews(t, a, authz, job)
	authz.during = nil
	if reason != ReasonDriverForbidden || retry != rbacRecheck {
		t.Fatalf("%q, retry %s; want DriverForbidden, retry %s", reason, retry, rbacRecheck)
	}
	if _, _, n := checkReviews(t, a, authz, job); n != 1 {
		t.Errorf("%d reviews after a change during the review, want 1", n)
	}
}

// TestAccessWaiters: a job waiting for a missing service account is woken
// by that account only, and forgotten once it is deleted.
func TestAccessWaiters(t *testing.T) {
	a, authz, _ := newTestAccess(t)
	job := testJob("a", "pi")
	if _, err := a.check(context.Background(), job, "other"); err != nil {
		t.Fatal(err)
	}
	if got := a.waitersFor("a", "spark"); len(got) != 0 {
		t.Errorf("service account 'spark' wakes %v, want nobody", got)
	}
	want := []types.NamespacedName{{Namespace: "a", Name: "pi"}}
	if diff := cmp.Diff(want, a.waitersFor("a", "other")); diff != "" {
		t.Errorf("service account 'other' wakes (-want +got):\n%s", diff)
	}
	a.done(want[0])
	if got := a.forget(""); slices.Contains(got, want[0]) || authz.reviews != 0 {
		t.Errorf("forget woke %v after %d reviews, want nobody after none", got, authz.reviews)
	}
}
