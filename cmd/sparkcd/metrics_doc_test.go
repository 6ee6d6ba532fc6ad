package main

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// metricRow is a row of a table in docs/metrics.md: its first cell names a
// metric.
var metricRow = regexp.MustCompile("^\\| `([a-zA-Z_:][a-zA-Z0-9_:]*)` \\|")

// sparkcdName is a string literal that names one of sparkcd's metrics.
var sparkcdName = regexp.MustCompile(`^sparkcd_[a-z0-9_]+$`)

// TestMetricsDocumented keeps docs/metrics.md true of the binary: every
// sparkcd_* metric the code names or /metrics serves has a row there, and
// every metric a row names is registered in the registry /metrics serves
// (controller-runtime's included), so the page can neither miss a metric
// nor describe one that is gone.
func TestMetricsDocumented(t *testing.T) {
	root := repoRoot(t)
	documented := documentedMetrics(t, filepath.Join(root, "docs", "metrics.md"))
	for _, name := range sortedKeys(documented) {
		if !registered(t, name) {
			t.Errorf("docs/metrics.md documents '%s', which the binary does not register", name)
		}
	}
	inCode := sparkcdMetricNames(t, root)
	if len(inCode) == 0 {
		t.Fatal("no sparkcd_* metric name found in the code")
	}
	for _, name := range sortedKeys(inCode) {
		if !registered(t, name) {
			t.Errorf("%s: '%s' looks like a metric name but is not registered", inCode[name], name)
		}
		if !documented[name] {
			t.Errorf("%s: metric '%s' has no row in docs/metrics.md", inCode[name], name)
		}
	}
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), "sparkcd_") && !documented[f.GetName()] {
			t.Errorf("/metrics serves '%s', which has no row in docs/metrics.md", f.GetName())
		}
	}
}

// documentedMetrics lists the metrics the tables of the page at path name.
func documentedMetrics(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for line := range strings.Lines(string(b)) {
		if m := metricRow.FindStringSubmatch(line); m != nil {
			if names[m[1]] {
				t.Errorf("%s: '%s' has two rows", path, m[1])
			}
			names[m[1]] = true
		}
	}
	if len(names) == 0 {
		t.Fatalf("%s: no metric rows", path)
	}
	return names
}

// registered reports whether a collector of that metric name is in the
// registry /metrics serves: registering a probe of the same name fails
// then, whatever its labels. A probe that registers is taken back.
func registered(t *testing.T, name string) bool {
	t.Helper()
	probe := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "probe of TestMetricsDocumented"})
	err := metrics.Registry.Register(probe)
	if err == nil {
		metrics.Registry.Unregister(probe)
		return false
	}
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) || strings.Contains(err.Error(), "already exists") ||
		strings.Contains(err.Error(), "different label names or a different help string") {
		return true
	}
	t.Fatalf("probing '%s': %v", name, err)
	return false
}

// sparkcdMetricNames finds the string literals naming a sparkcd_* metric
// in the module's Go code (tests, testdata and tools aside), by where they
// are.
func sparkcdMetricNames(t *testing.T, root string) map[string]string {
	t.Helper()
	names := map[string]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "testdata", "vendor", "bin", "hack":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			if s, err := strconv.Unquote(lit.Value); err == nil && sparkcdName.MatchString(s) {
				rel, _ := filepath.Rel(root, fset.Position(lit.Pos()).Filename)
				names[s] = rel
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
