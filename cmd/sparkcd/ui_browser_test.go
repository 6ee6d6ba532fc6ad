package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

var updateScreenshots = flag.Bool("update-screenshots", os.Getenv("SPARKCD_UPDATE_SCREENSHOTS") == "1",
	"also write the browser test's screenshots to docs/images/")

// chromiumPath is the browser the test drives: $SPARKCD_CHROMIUM, else
// Debian's chromium package.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("SPARKCD_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the browser test needs Chromium at %s (%v): install it with `sudo apt-get install -y chromium` (or `make browser`), or point SPARKCD_CHROMIUM at a Chromium or Chrome binary", path, err)
	}
	return path
}

// browser starts a headless Chromium with a fresh profile for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "chromium-profile")),
		chromedp.WindowSize(1280, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("unable to start %s: %v", chromiumPath(t), err)
	}
	return ctx
}

// waitJS polls a JavaScript condition in the page until it holds.
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main")))
			t.Fatalf("timed out waiting for %s (%s; error %v); the page:\n%s", what, expr, err, html)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func evalJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// screenshot saves the viewport under the test's temporary directory and,
// with -update-screenshots, to docs/images/name.
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{filepath.Join(dir, name)}
	if *updateScreenshots {
		paths = append(paths, filepath.Join(repoRoot(t), "docs", "images", name))
	}
	for _, p := range paths {
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
}

type cell struct {
	Run, Phase, Color string
	Width             float64
}

type point struct {
	X, Y      float64
	Executors int
	OffsetMS  int64
}

// TestUIBrowser opens `sparkcd ui` in headless Chromium and checks what a
// person sees: the jobs grid's cells and their colours, the chart's points
// where the timeline puts them, the log tail, and a run page that shows a
// new run started on the API server without being reloaded.
func TestUIBrowser(t *testing.T) {
	chromiumPath(t)
	e := env.Env(t)
	ns := e.Namespace(t)
	runName := uiFixture(t, e, ns)
	nightlyJob(t, ns)
	base := startUI(t, "--kubeconfig", e.Kubeconfig, "-n", ns)
	ctx := browser(t)
	shots := t.TempDir()

	if err := chromedp.Do(ctx, chromedp.Navigate(base), chromedp.WaitVisible(chromedp.CSS("tr.job .cell"))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the live indicator", `document.getElementById('live').dataset.state === 'live'`)
	cells := evalJS[[]cell](t, ctx, `Array.from(document.querySelectorAll('tr.job[data-job="`+ns+`/pi"] .grid .cell')).map(c => ({
		Run: c.dataset.run, Phase: c.dataset.phase, Color: getComputedStyle(c).backgroundColor, Width: c.getBoundingClientRect().width}))`)
	colors := map[string]string{"Succeeded": "rgb(45, 164, 78)", "Failed": "rgb(207, 34, 46)", "Running": "rgb(9, 105, 218)"}
	var want []cell
	for i, p := range uiHistoryPhases {
		want = append(want, cell{Run: fmt.Sprintf("pi-h%d", i), Phase: string(p), Color: colors[string(p)], Width: 18})
	}
	want = append(want, cell{Run: runName, Phase: "Running", Color: colors["Running"], Width: 18})
	if diff := cmp.Diff(want, cells); diff != "" {
		t.Errorf("the jobs grid (-want +got):\n%s", diff)
	}
	if text := evalJS[string](t, ctx, `document.getElementById('sources').innerText`); !strings.Contains(text, "4Gi exceeds the limit 2Gi") {
		t.Errorf("the sources do not show the rejected job's finding:\n%s", text)
	}
	screenshot(t, ctx, shots, "ui-jobs.png")

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`a.cell[data-run="`+runName+`"]`)), chromedp.WaitVisible(chromedp.CSS("#chart"))); err != nil {
		t.Fatal(err)
	}
	checkRunPage(t, ctx, ns)
	screenshot(t, ctx, shots, "ui-run.png")
	checkLiveRun(t, ctx, ns, runName)
}

// checkRunPage checks the chart's points, the reserved resources, the log
// tail and the Spark UI link as the browser laid them out.
func checkRunPage(t *testing.T, ctx context.Context, ns string) {
	t.Helper()
	points := evalJS[[]point](t, ctx, `Array.from(document.querySelectorAll('#chart circle.point')).map(c => ({
		X: +c.getAttribute('cx'), Y: +c.getAttribute('cy'), Executors: +c.dataset.executors, OffsetMS: +c.dataset.offsetMs}))`)
	// The chart spans the 300 s the job loop observed, 580 units wide from
	// x=44, and 0..5 executors, 176 units high from y=190 up.
	want := []point{{X: 44, Y: 190}}
	for _, p := range uiTimeline {
		want = append(want, point{X: 44 + 580*float64(p.OffsetMillis)/300_000, Y: 190 - 176*float64(p.Executors)/5,
			Executors: int(p.Executors), OffsetMS: p.OffsetMillis})
	}
	if diff := cmp.Diff(want, points, cmp.Comparer(func(a, b float64) bool { return a-b < 0.11 && b-a < 0.11 })); diff != "" {
		t.Errorf("the chart's points (-want +got):\n%s", diff)
	}
	inside := evalJS[bool](t, ctx, `(() => { const s = document.getElementById('chart').getBoundingClientRect();
		return Array.from(document.querySelectorAll('#chart circle.point')).every(c => { const r = c.getBoundingClientRect();
			return r.width > 0 && r.left >= s.left && r.right <= s.right && r.top >= s.top && r.bottom <= s.bottom; }); })()`)
	if !inside {
		t.Error("a chart point is not drawn inside the chart")
	}
	if got := evalJS[string](t, ctx, `document.getElementById('core-seconds').innerText`); !strings.HasPrefix(got, "1440.0") {
		t.Errorf("core-seconds shown %q, want 1440.0 (driver 300, executors 1140)", got)
	}
	logText := evalJS[string](t, ctx, `document.getElementById('log').innerText`)
	if !strings.Contains(logText, "line 149 "+uiLogLine) || strings.Contains(logText, "line 049 ") {
		t.Errorf("the log tail is not the last 100 lines:\n%s", logText)
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll('script').length`); n != 1 {
		t.Errorf("the page has %d scripts: the log was not escaped", n)
	}
	href := "http://spark.example.com/" + ns + "/pi"
	if !evalJS[bool](t, ctx, `document.querySelector('#spark-ui a[href="`+href+`"]') !== null`) {
		t.Errorf("no link to the Spark UI Ingress %s", href)
	}
}

// checkLiveRun starts a new run on the API server (the job's status moves
// on) and waits for the open run page to show it, and the run it shows to
// have succeeded, without a reload.
func checkLiveRun(t *testing.T, ctx context.Context, ns, runName string) {
	t.Helper()
	e := env.Env(t)
	evalJS[string](t, ctx, `window.sparkcdNoReload = 'kept'`)
	job := &v1alpha1.SparkJob{}
	if err := e.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "pi"}, job); err != nil {
		t.Fatal(err)
	}
	done := *job.Status.LastRun
	done.Phase, done.CompletionTime = v1alpha1.RunSucceeded, &metav1.Time{Time: uiStart.Add(5 * time.Minute)}
	job.Status.History = append([]v1alpha1.RunStatus{done}, job.Status.History...)
	job.Status.LastRun = &v1alpha1.RunStatus{Name: "pi-next", Phase: v1alpha1.RunPending, Trigger: v1alpha1.TriggerSchedule,
		StartTime: &metav1.Time{Time: uiStart.Add(30 * time.Minute)}}
	job.Status.ActiveRuns = []string{"pi-next"}
	if err := e.Client.Status().Update(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the new run in the grid and the run succeeded, without a reload",
		`document.querySelector('a.cell[data-run="pi-next"][data-phase="Pending"]') !== null &&
		 document.getElementById('run-phase').innerText === 'Succeeded' && window.sparkcdNoReload === 'kept'`)
	if got := evalJS[string](t, ctx, `getComputedStyle(document.querySelector('a.cell[data-run="pi-next"]')).backgroundColor`); got != "rgb(191, 135, 0)" {
		t.Errorf("the pending run's cell is %s, want the pending colour rgb(191, 135, 0)", got)
	}
	_ = runName
}

// nightlyJob adds a daily job with two weeks of runs, so the grid reads as
// it does in a cluster that has run for a while.
func nightlyJob(t *testing.T, ns string) {
	t.Helper()
	e := env.Env(t)
	job := piJob(ns)
	job.Name = "nightly-etl"
	job.Spec.Schedule, job.Spec.TimeZone = "0 2 * * *", "Europe/Paris"
	if err := e.Client.Create(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	for i := range 14 {
		start := uiStart.Add(time.Duration(i-14) * 24 * time.Hour)
		phase := v1alpha1.RunSucceeded
		if i == 4 || i == 9 || i == 10 {
			phase = v1alpha1.RunFailed
		}
		job.Status.History = append([]v1alpha1.RunStatus{{Name: fmt.Sprintf("nightly-etl-%d", i), Phase: phase,
			StartTime: &metav1.Time{Time: start}, CompletionTime: &metav1.Time{Time: start.Add(40 * time.Minute)}}}, job.Status.History...)
	}
	job.Status.NextScheduleTime = &metav1.Time{Time: uiStart.Add(17 * time.Hour)}
	job.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "RunSucceeded",
		Message: "run nightly-etl-13 succeeded", LastTransitionTime: metav1.Time{Time: uiStart}}}
	if err := e.Client.Status().Update(t.Context(), job); err != nil {
		t.Fatal(err)
	}
}
