package deploy_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/rules"
	"sigs.k8s.io/yaml"
)

// alertCase is one run of the rules over synthetic series, as promtool's
// rule unit tests do: series in promqltest's notation, one sample a
// minute from the Unix epoch, the rules evaluated every minute up to at,
// and the alert's firing instances then.
type alertCase struct {
	name   string
	alert  string
	series string
	at     time.Duration
	want   []string // the firing alerts' labels, without alertname and severity
}

// TestMonitoringAlerts evaluates each alert of the PrometheusRule with
// Prometheus' own rule manager and PromQL engine: it fires on a bad
// series, stays quiet on a good one, and waits its `for`.
func TestMonitoringAlerts(t *testing.T) {
	ruleFile := writeRuleFile(t)
	tested := map[string]int{}
	for _, tc := range alertCases() {
		t.Run(tc.name, func(t *testing.T) {
			got := firingAlerts(t, ruleFile, tc)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s at %s (-want +got):\n%s", tc.alert, tc.at, diff)
			}
		})
		if len(tc.want) > 0 {
			tested[tc.alert] |= 1
		} else {
			tested[tc.alert] |= 2
		}
	}
	for _, g := range readRuleGroups(t) {
		for _, r := range g.Rules {
			if tested[r.Alert] != 3 {
				t.Errorf("alert %s needs a case where it fires and one where it does not", r.Alert)
			}
		}
	}
}

// alertCases are, for each alert, series that fire it and series that
// must not.
func alertCases() []alertCase {
	return []alertCase{
		{name: "last run failed", alert: "SparkcdJobLastRunFailed", at: 5 * time.Minute,
			series: `sparkcd_job_last_run_phase{namespace="spark-dev", job="etl", phase="Failed"} 1x10
				sparkcd_job_last_run_phase{namespace="spark-dev", job="etl", phase="Succeeded"} 0x10`,
			want: []string{`{job="etl", namespace="spark-dev"}`}},
		{name: "last run succeeded", alert: "SparkcdJobLastRunFailed", at: 5 * time.Minute,
			series: `sparkcd_job_last_run_phase{namespace="spark-dev", job="etl", phase="Failed"} 0x10
				sparkcd_job_last_run_phase{namespace="spark-dev", job="etl", phase="Succeeded"} 1x10`},

		{name: "half the runs fail", alert: "SparkcdRunsFailing", at: 90 * time.Minute,
			series: `sparkcd_runs_finished_total{namespace="spark-prod", phase="Failed", reason="OOMKilled"} 0+0.1x90
				sparkcd_runs_finished_total{namespace="spark-prod", phase="Succeeded", reason="Completed"} 0+0.1x90`,
			want: []string{`{namespace="spark-prod"}`}},
		{name: "one run in twenty fails", alert: "SparkcdRunsFailing", at: 90 * time.Minute,
			series: `sparkcd_runs_finished_total{namespace="spark-prod", phase="Failed", reason="Error"} 0+0.01x90
				sparkcd_runs_finished_total{namespace="spark-prod", phase="Succeeded", reason="Completed"} 0+0.2x90`},
		{name: "the only run of the hour fails", alert: "SparkcdRunsFailing", at: 90 * time.Minute,
			series: `sparkcd_runs_finished_total{namespace="spark-prod", phase="Failed", reason="Error"} 0+0.02x90`},

		{name: "stalled 10 minutes", alert: "SparkcdSourceStalled", at: 10 * time.Minute,
			series: `sparkcd_source_condition{namespace="team-a", name="jobs", type="Stalled", status="True"} 1x10`,
			want:   []string{`{name="jobs", namespace="team-a"}`}},
		{name: "stalled 3 minutes: pending", alert: "SparkcdSourceStalled", at: 3 * time.Minute,
			series: `sparkcd_source_condition{namespace="team-a", name="jobs", type="Stalled", status="True"} 1x10`},
		{name: "not stalled", alert: "SparkcdSourceStalled", at: 10 * time.Minute,
			series: `sparkcd_source_condition{namespace="team-a", name="jobs", type="Stalled", status="True"} 0x10`},

		{name: "not ready 40 minutes", alert: "SparkcdSourceNotReady", at: 40 * time.Minute,
			series: `sparkcd_source_condition{namespace="team-a", name="jobs", type="Ready", status="False"} 1x40`,
			want:   []string{`{name="jobs", namespace="team-a"}`}},
		{name: "not ready because stalled", alert: "SparkcdSourceNotReady", at: 40 * time.Minute,
			series: `sparkcd_source_condition{namespace="team-a", name="jobs", type="Ready", status="False"} 1x40
				sparkcd_source_condition{namespace="team-a", name="jobs", type="Stalled", status="True"} 1x40`},
		{name: "ready", alert: "SparkcdSourceNotReady", at: 40 * time.Minute,
			series: `sparkcd_source_condition{namespace="team-a", name="jobs", type="Ready", status="False"} 0x40
				sparkcd_source_condition{namespace="team-a", name="jobs", type="Ready", status="True"} 1x40`},

		{name: "a fetch fails every five minutes", alert: "SparkcdGitFetchFailing", at: 40 * time.Minute,
			series: `sparkcd_git_fetch_errors_total{namespace="team-a", name="jobs"} 1+0.2x40`,
			want:   []string{`{name="jobs", namespace="team-a"}`}},
		{name: "one failed fetch", alert: "SparkcdGitFetchFailing", at: 40 * time.Minute,
			series: `sparkcd_git_fetch_errors_total{namespace="team-a", name="jobs"} 1x5 2x35`},

		{name: "deletes keep failing", alert: "SparkcdCleanupErrors", at: 60 * time.Minute,
			series: `sparkcd_cleanup_errors_total{operation="delete"} 0+0.1x60`,
			want:   []string{`{operation="delete"}`}},
		{name: "one failed delete", alert: "SparkcdCleanupErrors", at: 60 * time.Minute,
			series: `sparkcd_cleanup_errors_total{operation="delete"} 0x4 1x56`},

		{name: "the tick of minute 10 never came", alert: "SparkcdCleanupNotRunning", at: 40 * time.Minute,
			series: `sparkcd_cleanup_next_pass_timestamp_seconds{pod="sparkcd-a"} 600x40
				sparkcd_cleanup_next_pass_timestamp_seconds{pod="sparkcd-b"} 0x40`,
			want: []string{`{}`}},
		{name: "a pass every ten minutes", alert: "SparkcdCleanupNotRunning", at: 40 * time.Minute,
			series: `sparkcd_cleanup_next_pass_timestamp_seconds{pod="sparkcd-a"} 600x9 1200x9 1800x9 2400x9 3000x0
				sparkcd_cleanup_next_pass_timestamp_seconds{pod="sparkcd-b"} 0x40`},
		{name: "no in-process cleanup", alert: "SparkcdCleanupNotRunning", at: 40 * time.Minute,
			series: `sparkcd_cleanup_next_pass_timestamp_seconds{pod="sparkcd-a"} 0x40`},

		{name: "no replica leads", alert: "SparkcdNoLeader", at: 10 * time.Minute,
			series: `leader_election_master_status{name="sparkcd-leader", pod="sparkcd-a"} 0x10
				leader_election_master_status{name="sparkcd-leader", pod="sparkcd-b"} 0x10`,
			want: []string{`{}`}},
		{name: "no replica scraped", alert: "SparkcdNoLeader", at: 10 * time.Minute,
			series: `leader_election_master_status{name="another-controller"} 1x10`,
			want:   []string{`{name="sparkcd-leader"}`}},
		{name: "one replica leads", alert: "SparkcdNoLeader", at: 10 * time.Minute,
			series: `leader_election_master_status{name="sparkcd-leader", pod="sparkcd-a"} 1x10
				leader_election_master_status{name="sparkcd-leader", pod="sparkcd-b"} 0x10`},
	}
}

// writeRuleFile writes the PrometheusRule's groups as a Prometheus rule
// file: the operator hands Prometheus the same.
func writeRuleFile(t *testing.T) string {
	t.Helper()
	b, err := yaml.Marshal(map[string]any{"groups": readRuleGroups(t)})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sparkcd.rules.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// firingAlerts loads tc's series, evaluates every group each minute up to
// tc.at, and returns the labels of tc.alert's firing instances.
func firingAlerts(t *testing.T, ruleFile string, tc alertCase) []string {
	t.Helper()
	var load strings.Builder
	load.WriteString("load 1m\n")
	for line := range strings.Lines(tc.series) {
		load.WriteString("  " + strings.TrimSpace(line) + "\n")
	}
	suite, err := promqltest.NewLazyLoader(load.String(), promqltest.LazyLoaderOpts{EnableAtModifier: true, EnableNegativeOffset: true})
	if err != nil {
		t.Fatalf("series: %v", err)
	}
	defer suite.Close()
	m := rules.NewManager(&rules.ManagerOptions{
		QueryFunc:  rules.EngineQueryFunc(suite.QueryEngine(), suite.Storage()),
		Appendable: suite.Storage(),
		Context:    suite.Context(),
		NotifyFunc: func(context.Context, string, ...*rules.Alert) {},
	})
	groups, errs := m.LoadGroups(time.Minute, labels.EmptyLabels(), "", nil, false, ruleFile)
	if len(errs) > 0 {
		t.Fatalf("rule file: %v", errs)
	}
	var alerting []*rules.AlertingRule
	for _, g := range groups {
		for _, r := range g.Rules() {
			if ar, ok := r.(*rules.AlertingRule); ok {
				ar.SetRestored(true)
				alerting = append(alerting, ar)
			}
		}
	}
	start := time.Unix(0, 0).UTC()
	for ts := start; !ts.After(start.Add(tc.at)); ts = ts.Add(time.Minute) {
		suite.WithSamplesTill(ts, func(err error) {
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range groups {
				g.Eval(suite.Context(), ts)
			}
		})
		for _, ar := range alerting {
			if err := ar.LastError(); err != nil {
				t.Fatalf("%s at %s: %v", ar.Name(), ts.Sub(start), err)
			}
		}
	}
	var firing []string
	for _, ar := range alerting {
		if ar.Name() != tc.alert {
			continue
		}
		for _, a := range ar.ActiveAlerts() {
			if a.State == rules.StateFiring {
				l := labels.NewBuilder(a.Labels).Del(labels.AlertName, "severity").Labels()
				firing = append(firing, l.String())
			}
		}
	}
	sort.Strings(firing)
	return firing
}
