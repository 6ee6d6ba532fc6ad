package main

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
)

// get fetches path from the view with host as the Host header.
func get(t *testing.T, method, base, path, host string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, strings.TrimSuffix(base, "/")+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func wantAll(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, body)
		}
	}
}

// TestUIHandlers serves `sparkcd ui` over the real API server and reads its
// pages: sources with findings, jobs with their grid, a run with its chart,
// reserved resources, log tail and Spark UI link; it refuses every method
// but GET and HEAD and foreign Host headers, and escapes what it shows.
func TestUIHandlers(t *testing.T) {
	e := env.Env(t)
	ns := e.Namespace(t)
	runName := uiFixture(t, e, ns)
	base := startUI(t, "--kubeconfig", e.Kubeconfig, "-n", ns)

	resp, body := get(t, http.MethodGet, base, "/", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %s\n%s", resp.Status, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("Content-Security-Policy %q is not restrictive", csp)
	}
	wantAll(t, "the overview", body, ns+"/<b>jobs</b>", "https://git.example.com/data/jobs.git", "main@sha1:0123456789abcdef",
		"2026-12-03 09:00:00Z", "4Gi exceeds the limit 2Gi", "spec.executor.memory", "*/30 * * * *", "2026-12-03 09:30:00Z",
		"RunRunning", `data-run="pi-h0" data-phase="Succeeded"`, `data-run="pi-h1" data-phase="Failed"`,
		`class="cell phase-running" href="/runs/`+ns+`/pi/pi-live"`)
	wantAll(t, "the overview", body, "build failed: overlays/prod/kustomization.yaml: missing resource")
	if strings.Contains(body, "checkouts/") {
		t.Errorf("the overview shows a cache path:\n%s", body)
	}
	if i, j := strings.Index(body, `data-run="pi-h0"`), strings.Index(body, `data-run="pi-live"`); i < 0 || j < i {
		t.Errorf("the grid is not oldest → newest (pi-h0 at %d, pi-live at %d)", i, j)
	}

	resp, body = get(t, http.MethodGet, base, "/runs/"+ns+"/pi/"+runName, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the run: %s\n%s", resp.Status, body)
	}
	wantAll(t, "the run page", body, `id="run-phase">Running`, "Driver created", "2026-12-03 09:00:00Z",
		"First executor", "09:00:20Z, 20s after the driver", `id="peak">5`, "1440.0", "2580.0", "http://spark.example.com/"+ns+"/pi",
		"line 149 ", "&lt;script&gt;alert(1)&lt;/script&gt;", `data-executors="5"`)
	if n := strings.Count(body, `class="point"`); n != len(uiTimeline)+1 {
		t.Errorf("the chart has %d points, want %d (the driver's start and the timeline)", n, len(uiTimeline)+1)
	}
	if strings.Contains(body, "line 049 ") || strings.Contains(body, "<script>alert") {
		t.Errorf("the run page shows more than --log-lines lines, or an unescaped log")
	}

	resp, body = get(t, http.MethodGet, base, "/runs/"+ns+"/pi/pi-h0", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "The driver pod pi-h0-driver is gone") ||
		!strings.Contains(body, "No executor timeline recorded") {
		t.Errorf("a cleaned-up run: %s\n%s", resp.Status, body)
	}
	if resp, body = get(t, http.MethodGet, base, "/runs/"+ns+"/pi/nope", ""); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "has no run &#39;nope&#39;") {
		t.Errorf("an unknown run: %s\n%s", resp.Status, body)
	}
	if resp, _ = get(t, http.MethodGet, base, "/static/app.js", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /static/app.js: %s", resp.Status)
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		for _, path := range []string{"/", "/events", "/runs/" + ns + "/pi/" + runName, "/static/app.js"} {
			if resp, _ := get(t, m, base, path, ""); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s: %s, Allow %q; want 405 and GET, HEAD", m, path, resp.Status, resp.Header.Get("Allow"))
			}
		}
	}
	if resp, _ = get(t, http.MethodGet, base, "/", "rebound.example.com"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a foreign Host header: %s, want 403", resp.Status)
	}
	testUIEvents(t, base, ns)
}

// testUIEvents reads the event stream: ready, then a change once the
// SparkJob's status changed on the API server.
func testUIEvents(t *testing.T, base, ns string) {
	e := env.Env(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"events", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("/events Content-Type %q", ct)
	}
	events := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if ev, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				events <- ev
			}
		}
		close(events)
	}()
	if ev := <-events; ev != "ready" {
		t.Fatalf("first event %q, want ready", ev)
	}
	job := &v1alpha1.SparkJob{}
	if err := e.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "pi"}, job); err != nil {
		t.Fatal(err)
	}
	job.Status.History = append(job.Status.History, v1alpha1.RunStatus{Name: "pi-old", Phase: v1alpha1.RunFailed,
		StartTime: &metav1.Time{Time: uiStart.Add(-10 * time.Hour)}})
	if err := e.Client.Status().Update(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("the event stream ended before a change")
			}
			if ev == "change" {
				return
			}
		case <-timeout:
			t.Fatal("no change event within 30s of a status update")
		}
	}
}

// TestServeUI: `sparkcd serve --ui-addr` serves the same view, which shows
// the run serve itself started.
func TestServeUI(t *testing.T) {
	e := env.Env(t)
	ns := e.Namespace(t)
	if err := e.Client.Create(t.Context(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	srv := startServe(t, e, ns, "--ui-addr", addr)
	if err := e.Client.Create(t.Context(), piJob(ns)); err != nil {
		t.Fatal(err)
	}
	base := "http://" + addr + "/"
	testenv.Eventually(t, time.Minute, "the view to show the run serve started", func() (bool, string) {
		resp, err := http.Get(base)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK && strings.Contains(string(body), `class="cell phase-`) &&
			strings.Contains(string(body), `href="/runs/`+ns+`/pi/pi-`), resp.Status + "\n" + srv.logs.String()
	})
	if resp, _ := get(t, http.MethodPost, base, "/", ""); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST to serve's view: %s", resp.Status)
	}
}
