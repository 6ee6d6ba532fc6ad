package deploy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"
)

// promQL parses as Prometheus does by default.
var promQL = parser.NewParser(parser.Options{})

// metricRow is a row of a table in docs/metrics.md naming a metric; the
// cmd/sparkcd test TestMetricsDocumented holds each to the registry.
var metricRow = regexp.MustCompile("^\\| `([a-zA-Z_:][a-zA-Z0-9_:]*)` \\| ([a-z]+) \\|")

// documented reads docs/metrics.md: the metrics of its tables, by type,
// its promql blocks' lines and its headings.
type metricsDoc struct {
	types    map[string]string
	queries  []string
	headings map[string]bool
}

func readMetricsDoc(t *testing.T) metricsDoc {
	t.Helper()
	b, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	d := metricsDoc{types: map[string]string{}, headings: map[string]bool{}}
	inQuery := false
	for line := range strings.Lines(string(b)) {
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "```promql":
			inQuery = true
		case line == "```":
			inQuery = false
		case inQuery && line != "":
			d.queries = append(d.queries, line)
		case strings.HasPrefix(line, "#"):
			d.headings[strings.TrimSpace(strings.TrimLeft(line, "#"))] = true
		}
		if m := metricRow.FindStringSubmatch(line); m != nil {
			d.types[m[1]] = m[2]
		}
	}
	if len(d.types) == 0 || len(d.queries) == 0 {
		t.Fatalf("docs/metrics.md: %d metrics, %d queries", len(d.types), len(d.queries))
	}
	return d
}

// check parses expr and returns an error naming each metric it reads that
// docs/metrics.md does not list; a histogram's _bucket, _sum and _count
// series count as the histogram.
func (d metricsDoc) check(expr string) ([]string, error) {
	e, err := promQL.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names, unknown []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		if name == "" {
			unknown = append(unknown, "a selector without a metric name")
			return nil
		}
		names = append(names, name)
		if !d.known(name) {
			unknown = append(unknown, name)
		}
		return nil
	})
	if len(unknown) > 0 {
		return names, fmt.Errorf("not in docs/metrics.md: %s", strings.Join(unknown, ", "))
	}
	return names, nil
}

func (d metricsDoc) known(name string) bool {
	if _, ok := d.types[name]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && d.types[base] == "histogram" {
			return true
		}
	}
	return false
}

// TestMetricsDocQueries parses every query docs/metrics.md shows.
func TestMetricsDocQueries(t *testing.T) {
	d := readMetricsDoc(t)
	for _, q := range d.queries {
		if _, err := d.check(q); err != nil {
			t.Errorf("docs/metrics.md query %q: %v", q, err)
		}
	}
}

// alertRule is a rule of the PrometheusRule.
type alertRule struct {
	Alert       string            `json:"alert"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

type ruleGroup struct {
	Name  string      `json:"name"`
	Rules []alertRule `json:"rules"`
}

// readRuleGroups reads the groups of deploy/components/monitoring's
// PrometheusRule, which are those of a Prometheus rule file.
func readRuleGroups(t *testing.T) []ruleGroup {
	t.Helper()
	b, err := os.ReadFile("components/monitoring/prometheusrule.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var pr struct {
		APIVersion string         `json:"apiVersion"`
		Kind       string         `json:"kind"`
		Metadata   map[string]any `json:"metadata"`
		Spec       struct {
			Groups []ruleGroup `json:"groups"`
		} `json:"spec"`
	}
	if err := yaml.UnmarshalStrict(b, &pr); err != nil {
		t.Fatalf("prometheusrule.yaml: %v", err)
	}
	return pr.Spec.Groups
}

// TestMonitoringRulesPromQL parses every alert's expression with
// Prometheus' parser and checks that it reads only metrics sparkcd
// exports, and that each alert has a severity, a summary, a description
// and a runbook that is a section of docs/metrics.md.
func TestMonitoringRulesPromQL(t *testing.T) {
	d := readMetricsDoc(t)
	alerts := 0
	for _, g := range readRuleGroups(t) {
		for _, r := range g.Rules {
			alerts++
			if _, err := d.check(r.Expr); err != nil {
				t.Errorf("alert %s: %v", r.Alert, err)
			}
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("alert %s: severity %q, want warning or critical", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s: no summary or description", r.Alert)
			}
			anchor := "https://github.com/sparkcd/sparkcd/blob/main/docs/metrics.md#" + strings.ToLower(r.Alert)
			if r.Annotations["runbook_url"] != anchor || !d.headings[r.Alert] {
				t.Errorf("alert %s: runbook_url %q, want %q and a heading '### %s' in docs/metrics.md",
					r.Alert, r.Annotations["runbook_url"], anchor, r.Alert)
			}
		}
	}
	if alerts == 0 {
		t.Fatal("no alert in prometheusrule.yaml")
	}
}

// dashboard is what TestMonitoringDashboard reads of the Grafana JSON.
type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// grafanaVariables stand for the dashboard's variables and Grafana's own
// when a query is parsed as PromQL.
var grafanaVariables = strings.NewReplacer(
	"$__rate_interval", "5m", "$__interval", "1m", "$__range", "6h",
	"$namespace", ".*", "$source_namespace", ".*", "$sparkcd_namespace", "sparkcd-system")

// labelValues is a variable's query: label_values(METRIC, LABEL).
var labelValues = regexp.MustCompile(`^label_values\(([a-z_:][a-z0-9_:]*), ([a-z_]+)\)$`)

// TestMonitoringDashboard checks the Grafana dashboard's JSON: its uid and
// title, panels with unique ids inside the 24-column grid, each with
// queries on the dashboard's data source that Prometheus' parser reads and
// that name only metrics sparkcd exports, and a panel for each thing a
// platform team watches.
func TestMonitoringDashboard(t *testing.T) {
	d := readMetricsDoc(t)
	b, err := os.ReadFile("components/monitoring/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash dashboard
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	if dash.UID != "sparkcd" || dash.Title == "" || dash.SchemaVersion < 36 || len(dash.Panels) == 0 {
		t.Fatalf("dashboard uid %q title %q schemaVersion %d, %d panels", dash.UID, dash.Title, dash.SchemaVersion, len(dash.Panels))
	}
	used := map[string]bool{}
	ids := map[int]bool{}
	for _, p := range dash.Panels {
		where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if ids[p.ID] || p.ID == 0 || p.Title == "" {
			t.Errorf("%s: no title, or its id is 0 or taken", where)
		}
		ids[p.ID] = true
		if g := p.GridPos; g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("%s: gridPos %+v outside the 24 columns", where, g)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("%s: want queries on the ${datasource} variable", where)
		}
		for _, q := range p.Targets {
			expr := grafanaVariables.Replace(q.Expr)
			if q.RefID == "" || strings.Contains(expr, "$") {
				t.Errorf("%s: query %s %q has no refId or an unknown variable", where, q.RefID, q.Expr)
				continue
			}
			names, err := d.check(expr)
			if err != nil {
				t.Errorf("%s: query %q: %v", where, q.Expr, err)
			}
			for _, n := range names {
				used[n] = true
			}
		}
	}
	for _, v := range dash.Templating.List {
		q, _ := v.Query.(map[string]any)
		if v.Type != "query" || q == nil {
			continue
		}
		m := labelValues.FindStringSubmatch(fmt.Sprint(q["query"]))
		if m == nil || !d.known(m[1]) {
			t.Errorf("variable %s: query %v is not label_values() of a documented metric", v.Name, q["query"])
		}
	}
	for _, want := range []string{
		"sparkcd_runs_started_total", "sparkcd_runs_finished_total", "sparkcd_job_active_runs", "sparkcd_run_retries_total",
		"sparkcd_source_reconcile_duration_seconds_bucket", "sparkcd_source_findings", "sparkcd_git_fetch_errors_total",
		"sparkcd_source_applied_total", "sparkcd_source_pruned_total", "sparkcd_cleanup_drivers_deleted_total",
		"sparkcd_cleanup_errors_total", "workqueue_depth",
	} {
		if !used[want] {
			t.Errorf("no dashboard panel reads %s", want)
		}
	}
}
