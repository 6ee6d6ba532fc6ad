package main

import (
	"testing"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

func TestRunMessageQueued(t *testing.T) {
	secs := int64(75)
	tests := []struct {
		name string
		run  v1alpha1.RunStatus
		want string
	}{
		{name: "not queued", run: v1alpha1.RunStatus{Message: "driver exited with code 1"}, want: "driver exited with code 1"},
		{name: "waiting", run: v1alpha1.RunStatus{Queue: "team", Reason: "Queued", Message: "waiting for admission in Kueue LocalQueue 'team'"},
			want: "waiting for admission in Kueue LocalQueue 'team'"},
		{name: "admitted", run: v1alpha1.RunStatus{Queue: "team", QueuedSeconds: &secs}, want: "queued 1m15s in 'team'"},
		{name: "admitted and failed", run: v1alpha1.RunStatus{Queue: "team", QueuedSeconds: &secs, Message: "driver exited with code 1"},
			want: "queued 1m15s in 'team'; driver exited with code 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := runMessage(tt.run); got != tt.want {
				t.Errorf("runMessage = %q, want %q", got, tt.want)
			}
		})
	}
}
