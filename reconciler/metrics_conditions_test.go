package reconciler_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/reconciler"
)

// TestSourceConditionMetric follows one JobSource through the series of
// sparkcd_source_condition, which the Stalled and not-Ready alerts of
// deploy/components/monitoring read: a path that does not build stalls
// the source (Stalled True, Ready False), a fixed commit makes it Ready
// and drops Stalled (all its statuses 0), a deleted source has no series.
func TestSourceConditionMetric(t *testing.T) {
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	repo := gittest.NewRepo(t)
	repo.WriteFile(t, "jobs/kustomization.yaml", "resources:\n  - missing.yaml\n")
	repo.CommitAndPush(t, "a kustomization naming a missing file")
	srv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	startSourceLoop(t, e, reconciler.SourceOptions{}, ns)
	newSource(t, e, ns, "jobs", srv.URL(""))

	stalled := []string{"Ready False", "Stalled True"}
	waitConditionSeries(t, ns, "jobs", stalled)

	repo.WriteFile(t, "jobs/kustomization.yaml", "resources:\n  - a.yaml\n")
	repo.WriteFile(t, "jobs/a.yaml", jobYAML(t, "a"))
	commit := repo.CommitAndPush(t, "the missing file")
	requestAndWait(t, e, ns, "jobs")
	waitSource(t, e, ns, "jobs", "Ready", func(s *v1alpha1.JobSource) bool {
		return sourceReady(s, metav1.ConditionTrue, meta.SucceededReason, commit)
	})
	waitConditionSeries(t, ns, "jobs", []string{"Ready True"})

	if err := e.Client.Delete(t.Context(), getSource(t, e, ns, "jobs")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "no series of the deleted source", func() (bool, string) {
		got := conditionSeries(t, ns, "jobs")
		return len(got) == 0, fmt.Sprintf("%d series: %v", len(got), got)
	})
}

// waitConditionSeries waits until the source's nine series are there and
// those set to 1 are want ("Type Status").
func waitConditionSeries(t *testing.T, ns, name string, want []string) {
	t.Helper()
	eventually(t, fmt.Sprintf("sparkcd_source_condition of '%s/%s' %v", ns, name, want), func() (bool, string) {
		series := conditionSeries(t, ns, name)
		var ones []string
		for s, v := range series {
			if v == 1 {
				ones = append(ones, s)
			}
		}
		sort.Strings(ones)
		diff := cmp.Diff(want, ones)
		return len(series) == 9 && diff == "", fmt.Sprintf("%d series, set to 1 (-want +got):\n%s", len(series), diff)
	})
}

// conditionSeries gathers sparkcd_source_condition of one source from the
// registry /metrics serves, by "Type Status".
func conditionSeries(t *testing.T, ns, name string) map[string]float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "sparkcd_source_condition" {
			continue
		}
		for _, m := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["namespace"] == ns && l["name"] == name {
				out[strings.Join([]string{l["type"], l["status"]}, " ")] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}
