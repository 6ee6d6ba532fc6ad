package testenv

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var namespaceSeq atomic.Int64

// Namespace creates a namespace named after the test and deletes it when
// the test ends. Without kube-controller-manager the deleted namespace and
// its objects stay behind, Terminating, which no later test sees.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	name := namespaceName(t.Name(), namespaceSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := e.Client.Create(ctx, ns); err != nil {
		t.Fatalf("unable to create namespace '%s': %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.Client.Delete(ctx, ns); err != nil {
			t.Logf("unable to delete namespace '%s': %v", name, err)
		}
	})
	return name
}

// namespaceName turns a test name into a DNS-1123 label unique within the
// process: lower case, dashes, at most 63 characters with the sequence.
func namespaceName(test string, seq int64) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(test) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	suffix := fmt.Sprintf("-%d", seq)
	base := strings.TrimRight(b.String(), "-")
	if limit := 63 - len(suffix); len(base) > limit {
		base = strings.TrimRight(base[:limit], "-")
	}
	if base == "" {
		base = "test"
	}
	return base + suffix
}
