package main

import (
	"testing"

	"github.com/sparkcd/sparkcd/reconciler"
)

// TestServeSourceApplyConcurrency: --source-apply-concurrency, or its
// environment variable, sets how many jobs of one source the source loop
// applies at once; the default is the source loop's.
func TestServeSourceApplyConcurrency(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want int
	}{
		{name: "default", want: reconciler.DefaultSourceOptions().ApplyConcurrency},
		{name: "flag", args: []string{"--source-apply-concurrency", "4"}, want: 4},
		{name: "from the environment", env: map[string]string{"SPARKCD_SOURCE_APPLY_CONCURRENCY": "32"}, want: 32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := completeServeFlags(t, tt.env, tt.args, 0)
			if got := f.sourceOptions(nil).ApplyConcurrency; got != tt.want {
				t.Errorf("ApplyConcurrency = %d, want %d", got, tt.want)
			}
		})
	}
}
