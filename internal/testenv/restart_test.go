package testenv_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/internal/testenv"
)

// TestRestart kills etcd and kube-apiserver in turn and starts them again:
// what was stored before is still there, and the clients built before
// the restart write again without being rebuilt. It runs a control plane
// of its own, since it takes it down.
func TestRestart(t *testing.T) {
	e := testenv.Start(t)
	ns := e.Namespace(t)
	ctx := t.Context()
	for _, tt := range []struct {
		name  string
		stop  func() error
		start func(context.Context) error
	}{
		{name: "etcd", stop: e.StopEtcd, start: e.StartEtcd},
		{name: "kube-apiserver", stop: e.StopAPIServer, start: e.StartAPIServer},
	} {
		t.Run(tt.name, func(t *testing.T) {
			kept := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "before-" + tt.name}, Data: map[string]string{"k": "v"}}
			if err := e.Client.Create(ctx, kept); err != nil {
				t.Fatal(err)
			}
			if err := tt.stop(); err != nil {
				t.Fatalf("stop: %v", err)
			}
			short, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := e.Client.Get(short, client.ObjectKeyFromObject(kept), &corev1.ConfigMap{})
			cancel()
			if err == nil {
				t.Errorf("a read succeeded while %s was down", tt.name)
			}
			if err := tt.stop(); err != nil {
				t.Errorf("a second stop: %v", err)
			}
			if err := tt.start(ctx); err != nil {
				t.Fatalf("start: %v", err)
			}
			if err := tt.start(ctx); err == nil {
				t.Errorf("a second start did not fail while %s runs", tt.name)
			}
			got := &corev1.ConfigMap{}
			if err := e.Client.Get(ctx, client.ObjectKeyFromObject(kept), got); err != nil || got.Data["k"] != "v" {
				t.Errorf("the ConfigMap written before the restart: %v, data %v", err, got.Data)
			}
			after := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "after-" + tt.name}}
			if err := e.Client.Create(ctx, after); err != nil {
				t.Errorf("a write after the restart: %v", err)
			}
		})
	}
}
