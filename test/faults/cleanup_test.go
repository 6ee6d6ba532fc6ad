package faults_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/cronjobs/cleanup"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/runid"
)

// The cleanup case: finished drivers in scope, and the shares of requests
// answered 429 (any request) and 409 (writes) instead of reaching the API.
const (
	cleanupDrivers    = 30
	cleanupPasses     = 10
	throttleShare     = 0.15
	conflictShare     = 0.2
	cleanupJobName    = "pi"
	conflictStatusMsg = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the object has been modified; please apply your changes to the latest version and try again","reason":"Conflict","code":409}`
)

// faultInjector answers a share of requests with 429 Too Many Requests and
// Retry-After, as API priority and fairness does, and a share of writes
// with 409 Conflict, as an optimistic-lock loss does, without sending them
// on; it counts the DELETEs that reached the API server and succeeded,
// per object.
type faultInjector struct {
	next http.RoundTripper

	mu        sync.Mutex
	rng       *rand.Rand
	throttled int
	conflicts int
	deletes   map[string]int
}

func (f *faultInjector) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	p := f.rng.Float64()
	write := req.Method == http.MethodDelete || req.Method == http.MethodPatch || req.Method == http.MethodPut
	switch {
	case p < throttleShare:
		f.throttled++
		f.mu.Unlock()
		return fault(req, http.StatusTooManyRequests, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too many requests","reason":"TooManyRequests","code":429}`), nil
	case write && p < throttleShare+conflictShare:
		f.conflicts++
		f.mu.Unlock()
		return fault(req, http.StatusConflict, conflictStatusMsg), nil
	}
	f.mu.Unlock()
	resp, err := f.next.RoundTrip(req)
	if err == nil && req.Method == http.MethodDelete && resp.StatusCode/100 == 2 {
		f.mu.Lock()
		f.deletes[req.URL.Path]++
		f.mu.Unlock()
	}
	return resp, err
}

func fault(req *http.Request, code int, body string) *http.Response {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		_ = req.Body.Close()
	}
	h := http.Header{"Content-Type": []string{"application/json"}}
	if code == http.StatusTooManyRequests {
		h.Set("Retry-After", "1")
	}
	return &http.Response{
		StatusCode: code, Status: fmt.Sprintf("%d %s", code, http.StatusText(code)), Header: h,
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Request: req,
	}
}

// TestCleanupUnderThrottling runs cleanup passes whose requests are
// throttled (429 with Retry-After) and lose optimistic-lock races (409)
// at random, over 30 finished drivers in scope and, around them, pods the
// cleanup must never touch: running drivers, drivers sparkcd does not
// manage, executors, and finished drivers in a namespace outside its
// scope. Every driver in scope must be deleted by exactly one successful
// DELETE, and nothing else at all.
func TestCleanupUnderThrottling(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	fig := caseFigures(t, "cleanup-429-409")
	ctx := t.Context()
	ns, other := e.Namespace(t), e.Namespace(t)

	job := &v1alpha1.SparkJob{
		ObjectMeta: metav1.ObjectMeta{Name: cleanupJobName, Namespace: ns},
		Spec:       v1alpha1.SparkJobSpec{Type: v1alpha1.ScalaApplication},
	}
	if err := e.Client.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	inScope, outOfScope := createCleanupPods(t, e, job, ns, other)

	// The job loop recorded the runs as they ended: its history holds the
	// newest ten, and the cleanup may take the older ones it let go of.
	recordRuns(t, e, job, inScope, cleanup.DefaultStatusHistoryLimit)
	before := &v1alpha1.SparkJob{}
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(job), before); err != nil {
		t.Fatal(err)
	}

	inj := &faultInjector{rng: newRand(t), deletes: map[string]int{}}
	cfg := rest.CopyConfig(e.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { inj.next = rt; return inj })
	opts := cleanup.DefaultOptions()
	opts.SucceededTTL, opts.FailedTTL = 0, 0
	opts.Namespaces = []string{ns}
	cl, stop, err := cleanup.NewForConfig(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	passes, deleted := 0, 0
	for passes < cleanupPasses {
		passes++
		rep, err := cl.RunOnce(ctx)
		deleted += len(rep.Deleted)
		t.Logf("pass %d: %d deleted, %d kept, %d errors %v", passes, len(rep.Deleted), rep.Kept, rep.Errors, err)
		if remaining := existing(t, e, ns, inScope); len(remaining) == 0 {
			break
		}
	}
	inj.mu.Lock()
	fig.injected(inj.throttled + inj.conflicts)
	t.Logf("%d passes; %d requests throttled, %d writes refused with a conflict", passes, inj.throttled, inj.conflicts)
	deletes := inj.deletes
	inj.mu.Unlock()

	if remaining := existing(t, e, ns, inScope); len(remaining) > 0 {
		t.Errorf("%d drivers in scope left after %d passes: %v", len(remaining), passes, remaining)
	}
	checkDeletes(t, fig, ns, inScope, deletes)
	for _, key := range outOfScope {
		if len(existing(t, e, ns, []string{key})) == 0 {
			fig.lost++
			t.Errorf("pod %s, outside the cleanup's scope, was deleted", key)
		}
	}
	got := &v1alpha1.SparkJob{}
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(job), got); err != nil {
		t.Fatal(err)
	}
	if got.ResourceVersion != before.ResourceVersion {
		t.Errorf("the cleanup wrote the SparkJob (resourceVersion %s, then %s): the job loop is the one writer of its history", before.ResourceVersion, got.ResourceVersion)
	}
	if deleted < len(inScope) {
		t.Errorf("the reports name %d deleted drivers, want %d", deleted, len(inScope))
	}
	if !t.Failed() {
		fig.held(fig.faults)
	}
}

// createCleanupPods creates the pods of TestCleanupUnderThrottling: the
// finished drivers of job in ns, which are in scope, and those around
// them the cleanup must not touch: running drivers, drivers sparkcd does
// not manage, executors, and finished drivers in the namespace other.
func createCleanupPods(t *testing.T, e *testenv.Env, job *v1alpha1.SparkJob, ns, other string) (inScope, outOfScope []string) {
	t.Helper()
	for i := range cleanupDrivers {
		inScope = append(inScope, createPod(t, e, job, ns, fmt.Sprintf("pi-r%02d-driver", i), v1alpha1.RoleDriver, true, podSucceeded))
	}
	for i := range 3 {
		outOfScope = append(outOfScope, createPod(t, e, job, ns, fmt.Sprintf("pi-running%d-driver", i), v1alpha1.RoleDriver, true, podRunning))
	}
	for i := range 2 {
		outOfScope = append(outOfScope, createPod(t, e, nil, ns, fmt.Sprintf("submitted%d-driver", i), v1alpha1.RoleDriver, false, podSucceeded))
		outOfScope = append(outOfScope, createPod(t, e, nil, ns, fmt.Sprintf("pi-r%02d-exec-%d", i, i), v1alpha1.RoleExecutor, true, podSucceeded))
	}
	for i := range 3 {
		outOfScope = append(outOfScope, createPod(t, e, nil, other, fmt.Sprintf("elsewhere%d-driver", i), v1alpha1.RoleDriver, true, podSucceeded))
	}
	return inScope, outOfScope
}

// checkDeletes wants exactly one successful DELETE of each driver in
// scope, and none outside ns; deletes counts them by path.
func checkDeletes(t *testing.T, fig *figures, ns string, inScope []string, deletes map[string]int) {
	t.Helper()
	fig.runs = len(inScope)
	for _, name := range inScope {
		switch n := deletes["/api/v1/namespaces/"+ns+"/pods/"+name]; {
		case n > 1:
			fig.duplicates++
			t.Errorf("driver %s was deleted %d times", name, n)
		case n == 0:
			t.Errorf("driver %s has no successful DELETE", name)
		}
	}
	for path, n := range deletes {
		if !strings.HasPrefix(path, "/api/v1/namespaces/"+ns+"/pods/") {
			t.Errorf("%d DELETEs of %s, outside the cleanup's scope", n, path)
		}
	}
}

// createPod creates a finished or running pod of role in ns, managed by
// sparkcd or not, owned by job when given, and returns its name (with
// "<namespace>/" for pods outside the job's namespace).
func createPod(t *testing.T, e *testenv.Env, job *v1alpha1.SparkJob, ns, name, role string, managed bool, status func(*corev1.PodStatus)) string {
	t.Helper()
	run := strings.TrimSuffix(name, "-driver")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{
			v1alpha1.LabelSparkRole: role, v1alpha1.LabelJob: cleanupJobName, v1alpha1.LabelRun: run,
			v1alpha1.LabelSparkAppSelector: "spark-" + strings.Repeat("0", 32),
		}, Annotations: map[string]string{v1alpha1.AnnotationTrigger: string(v1alpha1.TriggerCommit), v1alpha1.AnnotationSpecHash: run}},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "spark-kubernetes-driver", Image: "apache/spark:3.5.3"}}},
	}
	if managed {
		pod.Labels[v1alpha1.LabelManagedBy] = v1alpha1.ManagedByValue
	}
	if job != nil {
		pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: v1alpha1.SparkJobKind, Name: job.Name, UID: job.UID}}
	}
	if err := e.Client.Create(t.Context(), pod); err != nil {
		t.Fatal(err)
	}
	if err := setPodStatus(t.Context(), e, ns, name, status); err != nil {
		t.Fatal(err)
	}
	if job != nil && ns == job.Namespace {
		return name
	}
	return ns + "/" + name
}

// recordRuns writes the runs of the named driver pods of job's namespace
// into its status.history, newest first and bounded by limit, as the job
// loop records runs when their drivers end.
func recordRuns(t *testing.T, e *testenv.Env, job *v1alpha1.SparkJob, pods []string, limit int) {
	t.Helper()
	var runs []v1alpha1.RunStatus
	for _, name := range pods {
		pod := &corev1.Pod{}
		if err := e.Client.Get(t.Context(), client.ObjectKey{Namespace: job.Namespace, Name: name}, pod); err != nil {
			t.Fatal(err)
		}
		run := runid.FromPod(pod, &pod.CreationTimestamp)
		runs = append(runs, *run)
	}
	sort.Slice(runs, func(i, j int) bool { return runid.Newer(&runs[i], &runs[j]) })
	runs = runs[:min(limit, len(runs))]
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		got := &v1alpha1.SparkJob{}
		if err := e.Client.Get(t.Context(), client.ObjectKeyFromObject(job), got); err != nil {
			return err
		}
		got.Status.History = runs
		return e.Client.Status().Update(t.Context(), got)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// existing returns those of the named pods of ns that still exist.
func existing(t *testing.T, e *testenv.Env, ns string, names []string) []string {
	t.Helper()
	var out []string
	for _, name := range names {
		key := name
		if i := strings.Index(name, "/"); i >= 0 {
			ns, key = name[:i], name[i+1:]
		}
		err := e.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: key}, &corev1.Pod{})
		switch {
		case err == nil:
			out = append(out, name)
		case !apierrors.IsNotFound(err):
			t.Fatal(err)
		}
	}
	return out
}
