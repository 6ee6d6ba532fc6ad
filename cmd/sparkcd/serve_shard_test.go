package main

import (
	"errors"
	"testing"
)

// TestServeShard: --shard NAME is the selector sparkcd.io/shard=NAME and
// the Lease sparkcd-leader-NAME (unless the Lease is named); the main
// instance excludes the shards with --watch-label-selector; a selector
// that does not parse, a name that cannot name a Lease, or both flags at
// once are bad input.
func TestServeShard(t *testing.T) {
	tests := []struct {
		name               string
		args               []string
		env                map[string]string
		selector, leaderID string
		wantCode           int
	}{
		{name: "unsharded", selector: "<nil>", leaderID: "sparkcd-leader"},
		{name: "shard", args: []string{"--shard", "a"}, selector: "sparkcd.io/shard=a", leaderID: "sparkcd-leader-a"},
		{name: "shard, Lease named", args: []string{"--shard", "a", "--leader-election-id", "mine"}, selector: "sparkcd.io/shard=a", leaderID: "mine"},
		{name: "shard from the environment", env: map[string]string{"SPARKCD_SHARD": "b"}, selector: "sparkcd.io/shard=b", leaderID: "sparkcd-leader-b"},
		{name: "main instance", args: []string{"--watch-label-selector", "!sparkcd.io/shard"}, selector: "!sparkcd.io/shard", leaderID: "sparkcd-leader"},
		{name: "set of shards", args: []string{"--watch-label-selector", "sparkcd.io/shard in (a,b)"}, selector: "sparkcd.io/shard in (a,b)", leaderID: "sparkcd-leader"},
		{name: "both", args: []string{"--shard", "a", "--watch-label-selector", "team=x"}, wantCode: exitInput},
		{name: "bad selector", args: []string{"--watch-label-selector", "a in b"}, wantCode: exitInput},
		{name: "bad shard name", args: []string{"--shard", "Shard_A"}, wantCode: exitInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := completeServeFlags(t, tt.env, tt.args, tt.wantCode)
			if f == nil {
				return
			}
			got := "<nil>"
			if f.shard.parsed != nil {
				got = f.shard.parsed.String()
			}
			if got != tt.selector || f.leaderElectionID != tt.leaderID {
				t.Errorf("selector %q, Lease %q; want %q, %q", got, f.leaderElectionID, tt.selector, tt.leaderID)
			}
		})
	}
}

// completeServeFlags sets env, parses args as serve's flags and completes
// them. With wantCode 0 it returns the flags, failing the test on any
// error; otherwise it wants an exitError of that code and returns nil.
func completeServeFlags(t *testing.T, env map[string]string, args []string, wantCode int) *serveFlags {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	f := &serveFlags{}
	cmd := newServeCommandWith(f)
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	err := f.complete(cmd)
	if wantCode != 0 {
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != wantCode {
			t.Fatalf("err = %v, want exit code %d", err, wantCode)
		}
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return f
}
