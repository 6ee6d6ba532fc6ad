package reconciler

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// TestShardCacheOneEntryPerType: a shard's cache options hold one entry
// for pods, whose selector is both sparkcd's (managed-by) and the
// shard's, and one for SparkJobs. ByObject is keyed by pointer; a second
// pod entry made controller-runtime pick one of the two in map order, so a
// shard now and then cached every instance's pods.
func TestShardCacheOneEntryPerType(t *testing.T) {
	for _, tc := range []struct {
		selector, pods, jobs string
	}{
		{"sparkcd.io/shard=a", "app.kubernetes.io/managed-by=sparkcd,sparkcd.io/shard=a", "sparkcd.io/shard=a"},
		{"!sparkcd.io/shard", "app.kubernetes.io/managed-by=sparkcd,!sparkcd.io/shard", "!sparkcd.io/shard"},
		{"team=x,sparkcd.io/shard in (a,b)", "app.kubernetes.io/managed-by=sparkcd,sparkcd.io/shard in (a,b)", "sparkcd.io/shard in (a,b),team=x"},
	} {
		sel, err := ParseWatchSelector(tc.selector)
		if err != nil {
			t.Fatal(err)
		}
		opts, err := cacheOptions([]string{"ns1", "ns2"})
		if err != nil {
			t.Fatal(err)
		}
		shardCache(&opts, sel)
		got := map[string]string{}
		for obj, by := range opts.ByObject {
			name := reflect.TypeOf(obj).Elem().Name()
			if _, dup := got[name]; dup {
				t.Errorf("selector %q: two cache entries for %s", tc.selector, name)
			}
			got[name] = ""
			if by.Label != nil {
				got[name] = by.Label.String()
			}
		}
		want := map[string]string{
			reflect.TypeFor[corev1.Pod]().Name():        tc.pods,
			reflect.TypeFor[v1alpha1.SparkJob]().Name(): tc.jobs,
		}
		for name, sel := range want {
			if got[name] != sel {
				t.Errorf("selector %q: %s cache selector %q, want %q", tc.selector, name, got[name], sel)
			}
		}
	}
}
