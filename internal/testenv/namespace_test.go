package testenv

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestNamespaceName(t *testing.T) {
	tests := []struct {
		name string
		test string
		seq  int64
		want string
	}{
		{name: "plain", test: "TestRun", seq: 1, want: "testrun-1"},
		{name: "subtest", test: "TestRun/Forbid_waits", seq: 12, want: "testrun-forbid-waits-12"},
		{name: "symbols only", test: "___", seq: 3, want: "test-3"},
		{name: "long", test: strings.Repeat("TestLong", 20), seq: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := namespaceName(tt.test, tt.seq)
			if tt.want != "" && got != tt.want {
				t.Errorf("namespaceName(%q, %d) = %q, want %q", tt.test, tt.seq, got, tt.want)
			}
			if errs := validation.IsDNS1123Label(got); len(errs) > 0 {
				t.Errorf("namespaceName(%q, %d) = %q, not a DNS-1123 label: %v", tt.test, tt.seq, got, errs)
			}
		})
	}
}
