package reconciler_test

import (
	"bytes"
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

	"github.com/sparkcd/sparkcd/api/v1alpha1"
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
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		lease := &coordinationv1.Lease{}
		if err := e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: mopts.LeaderElectionID}, lease); err != nil {
			return err
		}
		now := metav1.NewMicroTime(time.Now())
		lease.Spec.HolderIdentity = ptr.To("another-replica")
		lease.Spec.AcquireTime, lease.Spec.RenewTime = &now, &now
		lease.Spec.LeaseDurationSeconds = ptr.To[int32](3600)
		return e.Client.Update(ctx, lease)
	})
	if err != nil {
		t.Fatal(err)
	}
	var refused error
	var name string
	for i := 0; refused == nil; i++ {
		name = fmt.Sprintf("after-takeover-%d", i)
		err := c.Create(ctx, configMap(name))
		switch {
		case errors.Is(err, reconciler.ErrNotLeader):
			refused = err
		case err != nil:
			t.Fatalf("a write failed, but not at the fence: %v", err)
		case i > 1000:
			t.Fatal("the fence never closed after another replica took the Lease")
		default:
			time.Sleep(10 * time.Millisecond)
		}
	}
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
	hooks := httptest.NewServer(reconciler.NewWebhookHandler(c, reconciler.WebhookOptions{Reader: e.Client}))
	t.Cleanup(hooks.Close)
	body := `{"ref":"refs/heads/main"}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hooks.URL+"/hooks/"+ns+"/jobs", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Hub-Signature-256", sign(token, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("the webhook answered %d behind the fence, want 202", resp.StatusCode)
	}
	if getSource(t, e, ns, "jobs").Annotations[reconciler.AnnotationReconcileRequestedAt] == "" {
		t.Error("the webhook set no reconcile request behind the fence")
	}

	if !wait(waitTimeout) {
		t.Fatal("the manager kept running after it lost the Lease")
	}
	if stopped == nil || !strings.Contains(stopped.Error(), "leader election lost") {
		t.Errorf("the manager stopped with %v, want \"leader election lost\"", stopped)
	}
}
