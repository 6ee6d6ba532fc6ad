package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/runid"
)

// uiStart is when the fixture's runs started.
var uiStart = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

// uiLogLine is a line the fake kubelet serves as the driver's log.
const uiLogLine = "INFO SparkContext: Running Spark version 3.5.3 <script>alert(1)</script>"

// uiTimeline is the executor timeline of the fixture's last run: 1 → 5 → 1.
var uiTimeline = []v1alpha1.ExecutorPoint{
	{OffsetMillis: 20_000, Executors: 1}, {OffsetMillis: 60_000, Executors: 5},
	{OffsetMillis: 240_000, Executors: 1}, {OffsetMillis: 300_000, Executors: 0},
}

// uiHistoryPhases are the phases of the fixture's finished runs, oldest
// first.
var uiHistoryPhases = []v1alpha1.RunPhase{v1alpha1.RunSucceeded, v1alpha1.RunFailed, v1alpha1.RunSucceeded, v1alpha1.RunSucceeded}

// uiFixture creates, in ns, a JobSource with a rejected job and a
// scheduled SparkJob with finished runs and a running one that has an
// executor timeline, a driver pod whose log a fake kubelet serves, and a
// Spark UI Ingress. It returns the running run's name.
func uiFixture(t *testing.T, e *testenv.Env, ns string) string {
	t.Helper()
	ctx := t.Context()
	src := buildFailedSource(ns)
	src.Spec.URL = "https://git.example.com/data/jobs.git"
	status := src.Status
	if err := e.Client.Create(ctx, &src); err != nil {
		t.Fatal(err)
	}
	src.Status = status
	src.Status.LastAppliedRevision = "main@sha1:0123456789abcdef"
	src.Status.Conditions[0].LastTransitionTime = metav1.Time{Time: uiStart}
	if err := e.Client.Status().Update(ctx, &src); err != nil {
		t.Fatal(err)
	}
	job := piJob(ns)
	job.Spec.Schedule = "*/30 * * * *"
	if err := e.Client.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	for i, phase := range uiHistoryPhases {
		start := uiStart.Add(time.Duration(i-len(uiHistoryPhases)) * 30 * time.Minute)
		r := v1alpha1.RunStatus{Name: fmt.Sprintf("pi-h%d", i), Phase: phase, Trigger: v1alpha1.TriggerSchedule,
			StartTime: &metav1.Time{Time: start}, CompletionTime: &metav1.Time{Time: start.Add(10 * time.Minute)}}
		job.Status.History = append([]v1alpha1.RunStatus{r}, job.Status.History...)
	}
	last := v1alpha1.RunStatus{Name: "pi-live", Phase: v1alpha1.RunRunning, Trigger: v1alpha1.TriggerSchedule,
		Revision: "main@sha1:0123456789abcdef", StartTime: &metav1.Time{Time: uiStart},
		Insight: &v1alpha1.RunInsight{PeakExecutors: 5, FirstExecutorSeconds: ptr.To[int64](20), DurationSeconds: 300,
			Driver:    v1alpha1.Reserved{MilliCoreSeconds: 300_000, MiBSeconds: 1024 * 300},
			Executors: v1alpha1.Reserved{MilliCoreSeconds: 1_140_000, MiBSeconds: 2048 * 1140},
			Timeline:  v1alpha1.TimelineOf(uiTimeline), ObservedTime: &metav1.Time{Time: uiStart.Add(5 * time.Minute)}}}
	job.Status.LastRun = &last
	job.Status.ActiveRuns = []string{last.Name}
	job.Status.NextScheduleTime = &metav1.Time{Time: uiStart.Add(30 * time.Minute)}
	job.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "RunRunning",
		Message: "run pi-live is running", LastTransitionTime: metav1.Time{Time: uiStart}}}
	if err := e.Client.Status().Update(ctx, job); err != nil {
		t.Fatal(err)
	}
	driverWithLog(t, e, ns, last.Name)
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: runid.IngressName(last.Name)},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: "spark.example.com",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/" + ns + "/pi", PathType: ptr.To(networkingv1.PathTypePrefix),
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "pi-ui", Port: networkingv1.ServiceBackendPort{Number: 4040}}},
			}}}}}}}}
	if err := e.Client.Create(ctx, ing); err != nil {
		t.Fatal(err)
	}
	return last.Name
}

// driverWithLog creates the run's driver pod on a node whose "kubelet" is
// a TLS server of the test serving containerLogs, as a kubelet would: the
// API server's pods/log goes there (it does not verify a kubelet's
// certificate unless --kubelet-certificate-authority is set).
func driverWithLog(t *testing.T, e *testenv.Env, ns, run string) {
	t.Helper()
	ctx := t.Context()
	kubelet := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/containerLogs/"+ns+"/") {
			http.NotFound(w, r)
			return
		}
		const lines = 150
		from := 0
		if n, err := strconv.Atoi(r.URL.Query().Get("tailLines")); err == nil && n < lines {
			from = lines - n
		}
		for i := from; i < lines-1; i++ {
			fmt.Fprintf(w, "line %03d INFO TaskSetManager: Finished task %d.0 in stage 3.0 (TID %d) in %d ms on 10.244.0.%d (executor %d) (%d/149)\n",
				i, i, 300+i, 700+i%90, 10+i%5, 1+i%5, i+1)
		}
		fmt.Fprintf(w, "line %03d %s\n", lines-1, uiLogLine)
	}))
	t.Cleanup(kubelet.Close)
	u, err := url.Parse(kubelet.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "kubelet-" + ns}}
	if err := e.Client.Create(ctx, node); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Client.Delete(context.Background(), node) })
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	if err := e.Client.Status().Update(ctx, node); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: runid.DriverPodName(run)},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: runid.DriverContainerName, Image: "apache/spark:3.5.3"}}}}
	if err := e.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	binding := &corev1.Binding{ObjectMeta: pod.ObjectMeta, Target: corev1.ObjectReference{Kind: "Node", Name: node.Name}}
	if err := e.Client.SubResource("binding").Create(ctx, pod, binding); err != nil {
		t.Fatal(err)
	}
}

var uiURL = regexp.MustCompile(`serving on (http://\S+/)`)

// startUI runs `sparkcd ui` in-process until the test ends and returns
// its URL.
func startUI(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var buf syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"ui", "--port", "0"}, args...), &buf, &buf) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("sparkcd ui exited %d:\n%s", code, buf.String())
		}
	})
	var addr string
	testenv.Eventually(t, 30*time.Second, "sparkcd ui to print its URL", func() (bool, string) {
		m := uiURL.FindStringSubmatch(buf.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil, buf.String()
	})
	return addr
}
