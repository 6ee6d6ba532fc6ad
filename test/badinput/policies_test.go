package badinput

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sparkcd/sparkcd/cronjobs/schedule"
	"github.com/sparkcd/sparkcd/policies"
	"github.com/sparkcd/sparkcd/render/sparkconf"
)

// good is a policy that loads, placed beside each bad one.
const goodPolicy = `apiVersion: sparkcd.io/v1alpha1
kind: AllocationPolicy
metadata:
  name: good
spec:
  action: Enforce
  rules:
    maxExecutors: 10
`

// TestBadPolicies loads each invalid policy file of testdata/policies with
// a good one: the error names the file, the policy and the field, and
// wraps the sentinel; the good policy alone still loads.
func TestBadPolicies(t *testing.T) {
	tests := []struct {
		file  string
		want  string
		errIs error
	}{
		{file: "unknown-field", want: "policy 'bad': field 'spec.rules.maxExecutor': unknown field", errIs: policies.ErrUnknownField},
		{file: "wrong-kind", want: "policy 'bad': field 'kind': not a sparkcd.io/v1alpha1 AllocationPolicy: kind is 'SparkJob', want 'AllocationPolicy'", errIs: policies.ErrWrongKind},
		{file: "wrong-apiversion", want: "policy 'bad': field 'apiVersion': not a sparkcd.io/v1alpha1 AllocationPolicy: apiVersion is 'sparkcd.io/v1beta1'", errIs: policies.ErrWrongKind},
		{file: "duplicate-key", want: `policy 'bad': malformed document: yaml: unmarshal errors:` + "\n" + `  line 9: key "maxExecutors" already set in map`, errIs: policies.ErrMalformed},
		{file: "bad-quantity", want: "policy 'bad': field 'spec.rules.maxDriverMemory': invalid value: quantities must match", errIs: policies.ErrInvalidValue},
		{file: "negative-max-executors", want: "policy 'bad': field 'spec.rules.maxExecutors': invalid value: -1 is negative", errIs: policies.ErrInvalidValue},
		{file: "bad-duration", want: `policy 'bad': field 'spec.rules.maxExecutorIdleTimeout': invalid value: time: invalid duration "forever"`, errIs: policies.ErrInvalidValue},
		{file: "negative-run-duration", want: "policy 'bad': field 'spec.rules.maxRunDuration': invalid value: -2h0m0s is not a positive duration", errIs: policies.ErrInvalidValue},
		{file: "bad-action", want: "policy 'bad': field 'spec.action': invalid value: 'Block' is neither 'Enforce' nor 'Audit'", errIs: policies.ErrInvalidValue},
		{file: "bad-ratio", want: "policy 'bad': field 'spec.rules.executorAllocationRatio.min': invalid value: min 0.9 is above max 0.1", errIs: policies.ErrInvalidValue},
		{file: "malformed", want: "malformed document: yaml: line 7: did not find expected ',' or ']'", errIs: policies.ErrMalformed},
		{file: "not-a-mapping", want: "malformed document: not a mapping with apiVersion, kind and metadata", errIs: policies.ErrMalformed},
		{file: "missing-name", want: "field 'metadata.name': invalid value: a policy needs a name", errIs: policies.ErrInvalidValue},
		{file: "yaml-bomb", want: "malformed document: yaml: document contains excessive aliasing", errIs: policies.ErrMalformed},
		{file: "bad-pod-security-level", want: "policy 'bad': field 'spec.podSecurity.level': invalid value: 'strict' is not privileged, baseline or restricted", errIs: policies.ErrInvalidValue},
		{file: "bad-image-registry", want: "policy 'bad': field 'spec.rules.pods.allowedImageRegistries[0]': invalid value: 'apache' does not start with a registry host (such as 'ghcr.io' or 'docker.io/apache')", errIs: policies.ErrInvalidValue},
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte(goodPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		seen[tc.file+".yaml"] = true
		t.Run(tc.file, func(t *testing.T) {
			bad := filepath.Join("testdata/policies", tc.file+".yaml")
			_, err := policies.LoadFiles(good, bad)
			if err == nil {
				t.Fatal("the bad policy loaded")
			}
			if want := "'" + bad + "': " + tc.want; !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
			if !errors.Is(err, tc.errIs) {
				t.Errorf("error %v does not wrap %v", err, tc.errIs)
			}
			if strings.Contains(err.Error(), "good") {
				t.Errorf("the error blames the good policy: %v", err)
			}
			if ps, err := policies.LoadFiles(good); err != nil || len(ps) != 1 {
				t.Errorf("the good policy alone: %d policies, %v", len(ps), err)
			}
		})
	}
	t.Run("huge", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "huge.yaml")
		content := goodPolicy + "    maxExecutorIdleTimeout: \"" + strings.Repeat("9", 64<<20) + "s\"\n"
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := policies.LoadFiles(p)
		want := fmt.Sprintf("unable to read policy file '%s': file is too large: %d bytes, more than %d", p, len(content), policies.MaxFileBytes)
		if !errors.Is(err, policies.ErrTooLarge) || err.Error() != want {
			t.Errorf("error %v, want %q", err, want)
		}
	})
	entries, _ := os.ReadDir("testdata/policies")
	for _, e := range entries {
		if !seen[e.Name()] {
			t.Errorf("testdata/policies/%s has no case", e.Name())
		}
	}
}

// TestBadSchedules feeds schedule.Parse the schedules and time
// zones users get wrong.
func TestBadSchedules(t *testing.T) {
	tests := []struct{ schedule, tz, want string }{
		{schedule: "61 * * * *", want: "end of range (61) above maximum (59)"},
		{schedule: "* * * *", want: "expected exactly 5 fields"},
		{schedule: "0 3 * * * *", want: "expected exactly 5 fields"},
		{schedule: "@fortnightly", want: "unrecognized descriptor"},
		{schedule: "@every -1h", want: "the interval must be positive"},
		{schedule: "@every 0s", want: "the interval must be positive"},
		{schedule: "CRON_TZ=UTC 0 3 * * *", want: "time zone"},
		{schedule: "0 3 * * *", tz: "Mars/Olympus_Mons", want: "Mars/Olympus_Mons"},
		{schedule: "0 3 * * *", tz: "../../etc/passwd", want: "../../etc/passwd"},
		{schedule: "", want: "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.schedule+"|"+tc.tz, func(t *testing.T) {
			_, err := schedule.Parse(tc.schedule, tc.tz)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseSchedule(%q, %q) = %v, want an error saying %q", tc.schedule, tc.tz, err, tc.want)
			}
		})
	}
}

// TestBadQuantities feeds internal/sparkconf the sizes and durations users
// get wrong.
func TestBadQuantities(t *testing.T) {
	for _, s := range []string{"", "1 gig", "-1g", "1.5g", "g", "99999999999999999999p", "1e3m", "0x10m", "１g"} {
		if v, err := sparkconf.ParseMemoryMiB(s); err == nil {
			t.Errorf("ParseMemoryMiB(%q) = %d, want an error", s, v)
		}
	}
	for _, s := range []string{"", "forever", "-5s", "1 h", "99999999999999999999d", "5parsecs"} {
		if v, err := sparkconf.ParseDuration(s, time.Millisecond); err == nil {
			t.Errorf("ParseDuration(%q) = %s, want an error", s, v)
		}
	}
	for _, s := range []string{"", "lots", "1.5.5", "-1", "1Qi"} {
		if v, err := sparkconf.ParseCores(s); err == nil {
			t.Errorf("ParseCores(%q) = %s, want an error", s, v.String())
		}
	}
}
