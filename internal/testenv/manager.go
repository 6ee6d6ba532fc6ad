package testenv

import (
	"context"
	"errors"
	"sync"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// StartManager starts mgr in the background. The function it returns
// stops it and waits for it to end, failing the test if it ended with
// anything but its cancellation; the test's end calls it too, and a
// second call does nothing.
func StartManager(t testing.TB, mgr manager.Manager) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("the manager ended with: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
