package testenv

import (
	"testing"
	"time"
)

// Eventually polls cond every 50ms until it holds, and fails the test with
// cond's last description once timeout has passed: how tests wait for a
// loop to reach a state without sleeping for a fixed time.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, desc := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %s", what, desc)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
