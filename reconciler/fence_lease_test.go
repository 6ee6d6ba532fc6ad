package reconciler_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// TestLeaderFence runs a manager with leader election against the real
// API server. Elected, it writes. Once another replica holds the Lease,
// its next renewal sees that and every write it tries is refused with
// ErrNotLeader and never reaches the API server, while reads and a
// webhook's reconcile request still pass; then the manager stops, as
// controller-runtime does when it loses the Lease.
func TestLeaderFence(t *testing.T) {
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	const token = "hook-t0ken"
	if err := e.Client.Create(t.Context(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hook"},
		Data:       map[string][]byte{"token": []byte(token)},
	}); err != nil {
		t.Fatal(err)
	}
	newSource(t, e, ns, "jobs", "https://127.0.0.1:1/unused.git", func(s *v1alpha1.JobSource) {
		s.Spec.WebhookSecretRef = &meta.LocalObjectReference{Name: "hook"}
	})

	mopts := reconciler.DefaultManagerOptions()
	mopts.Namespaces = []string{ns}
	mopts.LeaderElection = true
	mopts.LeaderElectionNamespace = ns
	mopts.LeaseDuration, mopts.RenewDeadline, mopts.RetryPeriod = 4*time.Second, 3*time.Second, 500*time.Millisecond
	mopts.Logger = testLogger(t)
	mgr, err := reconciler.NewManager(e.Config, mopts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var stopped error
	exited := false
	wait := func(d time.Duration) bool {
		if !exited {
			select {
			case stopped = <-done:
				exited = true
			case <-time.After(d):
			}
		}
		return exited
	}
	t.Cleanup(func() { cancel(); wait(waitTimeout) })
	select {
	case <-mgr.Elected():
	case <-time.After(waitTimeout):
		t.Fatal("the manager was not elected")
	}

	c := mgr.GetClient()
	configMap := func(name string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	}
	if err := c.Create(ctx, configMap("while-leading")); err != nil {
		t.Fatalf("the leader could not write: %v", err)
	}

	// Another replica's record, as if this one had been paused past its
	// Lease and the other had taken it.
	takeLease(t, e, ns, mopts.LeaderElectionID, "another-replica")
	name, refused := createUntilRefused(t, c, ns)
	t.Logf("refused: %v", refused)
	if !strings.Contains(refused.Error(), "leadership not confirmed since") {
		t.Errorf("the refusal does not say since when leadership is not confirmed: %v", refused)
	}
	if err := e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, configMap(name)); !apierrors.IsNotFound(err) {
		t.Errorf("the refused ConfigMap %s reached the API server: %v", name, err)
	}
	if err := mgr.GetAPIReader().Get(ctx, types.NamespacedName{Namespace: ns, Name: "while-leading"}, configMap("")); err != nil {
		t.Errorf("a read was refused behind the fence: %v", err)
	}

	// Every replica answers webhooks.
	checkWebhook(t, e, c, ns, token)

	if !wait(waitTimeout) {
		t.Fatal("the manager kept running after it lost the Lease")
	}
	if stopped == nil || !strings.Contains(stopped.Error(), "leader election lost") {
		t.Errorf("the manager stopped with %v, want \"leader election lost\"", stopped)
	}
}

// takeLease records holder in the Lease ns/id, as if it had taken it for
// an hour.
func takeLease(t *testing.T, e *testenv.Env, ns, id, holder string) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		lease := &coordinationv1.Lease{}
		if err := e.Client.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: id}, lease); err != nil {
			return err
		}
		now := metav1.NewMicroTime(time.Now())
		lease.Spec.HolderIdentity = ptr.To(holder)
		lease.Spec.AcquireTime, lease.Spec.RenewTime = &now, &now
		lease.Spec.LeaseDurationSeconds = ptr.To[int32](3600)
		return e.Client.Update(t.Context(), lease)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// createUntilRefused creates ConfigMaps in ns through c until the fence
// refuses one, and returns its name and the refusal; any other error
// fails the test, and so does a fence that never closes.
func createUntilRefused(t *testing.T, c client.Client, ns string) (string, error) {
	t.Helper()
	for i := 0; ; i++ {
		name := fmt.Sprintf("after-takeover-%d", i)
		err := c.Create(t.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
		switch {
		case errors.Is(err, reconciler.ErrNotLeader):
			return name, err
		case err != nil:
			t.Fatalf("a write failed, but not at the fence: %v", err)
		case i > 1000:
			t.Fatal("the fence never closed after another replica took the Lease")
		default:
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// checkWebhook posts a signed push event for the JobSource ns/jobs through
// c and wants it accepted and a reconcile requested.
func checkWebhook(t *testing.T, e *testenv.Env, c client.Client, ns, token string) {
	t.Helper()
	hooks := httptest.NewServer(reconciler.NewWebhookHandler(c, reconciler.WebhookOptions{Reader: e.Client}))
	t.Cleanup(hooks.Close)
	body := `{"ref":"refs/heads/main"}`
	status := sendHook(t, http.MethodPost, hooks.URL+"/hooks/"+ns+"/jobs", body, map[string]string{"X-Hub-Signature-256": sign(token, body)})
	if status != http.StatusAccepted {
		t.Errorf("the webhook answered %d behind the fence, want 202", status)
	}
	if getSource(t, e, ns, "jobs").Annotations[reconciler.AnnotationReconcileRequestedAt] == "" {
		t.Error("the webhook set no reconcile request behind the fence")
	}
}
