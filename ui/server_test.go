package ui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// TestGuard: every method but GET and HEAD is refused, a Host header that
// is not loopback is refused, and every answer carries the security
// headers (a narrow unit test: the pages are tested against the API server
// in cmd/sparkcd).
func TestGuard(t *testing.T) {
	scheme, err := v1alpha1.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(fake.NewClientBuilder().WithScheme(scheme).Build(), nil)
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	tests := []struct {
		method, host, path string
		want               int
	}{
		{http.MethodGet, "127.0.0.1:8484", "/", http.StatusOK},
		{http.MethodHead, "localhost:8484", "/", http.StatusOK},
		{http.MethodGet, "[::1]:8484", "/static/style.css", http.StatusOK},
		{http.MethodPost, "127.0.0.1:8484", "/", http.StatusMethodNotAllowed},
		{http.MethodDelete, "127.0.0.1:8484", "/runs/a/b/c", http.StatusMethodNotAllowed},
		{http.MethodPut, "127.0.0.1:8484", "/events", http.StatusMethodNotAllowed},
		{http.MethodOptions, "127.0.0.1:8484", "/", http.StatusMethodNotAllowed},
		{http.MethodGet, "attacker.example:8484", "/", http.StatusForbidden},
		{http.MethodGet, "127.0.0.1.attacker.example", "/", http.StatusForbidden},
		{http.MethodGet, "127.0.0.1:8484", "/nope", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.host+tt.path, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			req.Host = tt.host
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("status %d, want %d: %s", rec.Code, tt.want, rec.Body.String())
			}
			if csp := rec.Header().Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
			if rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("X-Frame-Options") != "DENY" {
				t.Errorf("security headers missing: %v", rec.Header())
			}
		})
	}
	if _, err := New(nil, nil, WithAcceptHosts([]string{"("})); err == nil || !strings.Contains(err.Error(), "invalid accepted host pattern '('") {
		t.Errorf("a bad --accept-hosts pattern: %v", err)
	}
}
