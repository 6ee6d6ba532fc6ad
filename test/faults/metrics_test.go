package faults_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sparkcd's /metrics, read by the cases that run it with --metrics-addr:
// its client's requests (rest_client_requests_total, by method and
// answer) and its loops' reconciles.

// waitNoWrites waits until sparkcd has made no write for quiet.
func waitNoWrites(t *testing.T, addr string, quiet time.Duration) {
	t.Helper()
	last, since, scraped := scrapeMetrics(t, addr).writes(), time.Now(), time.Now()
	eventually(t, fmt.Sprintf("no write for %s", quiet), func() (bool, string) {
		// Half a second between scrapes is precise enough.
		if time.Since(scraped) >= 500*time.Millisecond {
			scraped = time.Now()
			if w := scrapeMetrics(t, addr).writes(); w != last {
				last, since = w, time.Now()
			}
		}
		return time.Since(since) >= quiet, fmt.Sprintf("the last write %s ago", time.Since(since).Round(time.Second))
	})
}

// waitPolls waits until the source loop has reconciled n more times.
func waitPolls(t *testing.T, addr string, n int) {
	t.Helper()
	start := scrapeMetrics(t, addr).sourcePolls()
	got, scraped := 0.0, time.Now()
	eventually(t, fmt.Sprintf("%d source polls", n), func() (bool, string) {
		if time.Since(scraped) >= 500*time.Millisecond {
			scraped = time.Now()
			got = scrapeMetrics(t, addr).sourcePolls() - start
		}
		return got >= float64(n), fmt.Sprintf("%d polls", int(got))
	})
}

// metricSamples are the samples of a /metrics page, by series: the name
// and its labels as printed.
type metricSamples map[string]float64

// writes sums rest_client_requests_total over the methods that change
// something, every answer counted, errors included.
func (m metricSamples) writes() float64 {
	var n float64
	for series, v := range m {
		if isWrite(series) {
			n += v
		}
	}
	return n
}

// diffWrites lists the write series that changed since before.
func (m metricSamples) diffWrites(before metricSamples) string {
	var out []string
	for series, v := range m {
		if isWrite(series) && v != before[series] {
			out = append(out, fmt.Sprintf("%s +%d", series, int(v-before[series])))
		}
	}
	if len(out) == 0 {
		return "no write series changed"
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// isWrite reports whether a series counts client requests that change
// something: POST, PUT, PATCH, DELETE.
func isWrite(series string) bool {
	if !strings.HasPrefix(series, "rest_client_requests_total{") {
		return false
	}
	for _, method := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		if strings.Contains(series, `method="`+method+`"`) {
			return true
		}
	}
	return false
}

// sourcePolls counts the source loop's reconciles.
func (m metricSamples) sourcePolls() float64 {
	return m.sum("sparkcd_source_reconcile_duration_seconds_count{")
}

// jobReconciles counts the job loop's reconciles.
func (m metricSamples) jobReconciles() float64 {
	return m.sum("sparkcd_job_reconcile_duration_seconds_count{")
}

func (m metricSamples) sum(prefix string) float64 {
	var n float64
	for series, v := range m {
		if strings.HasPrefix(series, prefix) {
			n += v
		}
	}
	return n
}

// scrapeMetrics reads sparkcd's /metrics, in the Prometheus text format,
// retrying while the endpoint is not up yet.
func scrapeMetrics(t *testing.T, addr string) metricSamples {
	t.Helper()
	var m metricSamples
	eventually(t, "sparkcd's /metrics", func() (bool, string) {
		var err error
		m, err = readMetrics(t.Context(), addr)
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	return m
}

// readMetrics reads one /metrics page; a line of the text format is the
// series, a space and the value.
func readMetrics(ctx context.Context, addr string) (metricSamples, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics answered %s", resp.Status)
	}
	m := metricSamples{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("unable to read the sample %q: %w", line, err)
		}
		m[line[:i]] = v
	}
	return m, sc.Err()
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
