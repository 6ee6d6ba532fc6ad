package ui

import (
	"fmt"
	"net/http"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

func (s *Server) serveOverview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var sources v1alpha1.JobSourceList
	var jobs v1alpha1.SparkJobList
	if err := s.reader.List(ctx, &sources, client.InNamespace(s.namespace)); err != nil {
		s.renderError(w, statusOf(err), fmt.Errorf("unable to list JobSources: %w", err))
		return
	}
	if err := s.reader.List(ctx, &jobs, client.InNamespace(s.namespace)); err != nil {
		s.renderError(w, statusOf(err), fmt.Errorf("unable to list SparkJobs: %w", err))
		return
	}
	sort.Slice(sources.Items, func(a, b int) bool { return keyOf(&sources.Items[a]) < keyOf(&sources.Items[b]) })
	sort.Slice(jobs.Items, func(a, b int) bool { return keyOf(&jobs.Items[a]) < keyOf(&jobs.Items[b]) })
	page := overviewPage{Title: "sparkcd", Namespace: s.namespace}
	if page.Namespace == "" {
		page.Namespace = "all namespaces"
	}
	for i := range sources.Items {
		page.Sources = append(page.Sources, newSourceView(&sources.Items[i], s.clean))
	}
	for i := range jobs.Items {
		page.Jobs = append(page.Jobs, newJobView(&jobs.Items[i], s.clean))
	}
	s.render(w, http.StatusOK, "overview", page)
}

func keyOf(o client.Object) string { return o.GetNamespace() + "/" + o.GetName() }

// statusOf maps an API error to the page's status code.
func statusOf(err error) int {
	switch {
	case apierrors.IsNotFound(err):
		return http.StatusNotFound
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		return http.StatusForbidden
	default:
		return http.StatusBadGateway
	}
}

type runPage struct {
	Title     string
	Job       jobView
	Run       v1alpha1.RunStatus
	Phase     runCell
	Times     []timeRow
	Chart     *chartView
	Cost      *costView
	Log       string
	LogNote   string
	SparkUI   []string
	DriverPod string
}

type timeRow struct {
	Label, Time string
}

func (s *Server) serveRun(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ns, name, runName := r.PathValue("namespace"), r.PathValue("job"), r.PathValue("run")
	if s.namespace != "" && ns != s.namespace {
		s.renderError(w, http.StatusNotFound, fmt.Errorf("this view shows namespace '%s' only", s.namespace))
		return
	}
	job := &v1alpha1.SparkJob{}
	if err := s.reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, job); err != nil {
		s.renderError(w, statusOf(err), fmt.Errorf("unable to read SparkJob '%s/%s': %w", ns, name, err))
		return
	}
	var run *v1alpha1.RunStatus
	for _, r := range runsOf(job) {
		if r.Name == runName {
			run = &r
			break
		}
	}
	if run == nil {
		s.renderError(w, http.StatusNotFound, fmt.Errorf("sparkjob/%s in '%s' has no run '%s' in its status", name, ns, runName))
		return
	}
	page := runPage{Title: run.Name, Job: newJobView(job, s.clean), Run: *run, Phase: newRunCell(job, *run),
		DriverPod: runid.DriverPodName(run.Name), Times: runTimes(run)}
	page.Run.Message = s.clean(page.Run.Message)
	page.Chart = newChart(timelineOf(run), chartEnd(run, time.Now()))
	page.Cost = costOf(run)
	page.Log, page.LogNote = s.logTail(r, ns, page.DriverPod)
	page.SparkUI = s.sparkUILinks(r, ns, run.Name)
	s.render(w, http.StatusOK, "run", page)
}

// runTimes are the run's moments the status records.
func runTimes(r *v1alpha1.RunStatus) []timeRow {
	var rows []timeRow
	if r.StartTime != nil {
		rows = append(rows, timeRow{Label: "Driver created", Time: formatTime(r.StartTime)})
	}
	rows = append(rows, insightTimes(r)...)
	if r.CompletionTime != nil {
		rows = append(rows, timeRow{Label: string(r.Phase), Time: formatTime(r.CompletionTime)})
		if r.StartTime != nil {
			rows = append(rows, timeRow{Label: "Duration", Time: shortDuration(r.CompletionTime.Sub(r.StartTime.Time))})
		}
	}
	return rows
}

// logTail reads the end of the driver's log, or says why there is none.
func (s *Server) logTail(r *http.Request, ns, podName string) (string, string) {
	pod := &corev1.Pod{}
	if err := s.reader.Get(r.Context(), client.ObjectKey{Namespace: ns, Name: podName}, pod); err != nil {
		if apierrors.IsNotFound(err) {
			return "", "The driver pod " + podName + " is gone: the cleanup deletes finished drivers past their TTL or history limit."
		}
		return "", "Unable to read the driver pod: " + err.Error()
	}
	if pod.Spec.NodeName == "" {
		return "", "The driver pod " + podName + " is " + string(pod.Status.Phase) + " and not scheduled to a node yet: no log."
	}
	text, err := s.logs.TailLog(r.Context(), ns, podName, runid.DriverContainerName, s.logLines)
	if err != nil {
		return "", "Unable to read the driver log: " + err.Error()
	}
	return text, ""
}

// sparkUILinks are the addresses of the run's Spark UI Ingress, if it has
// one.
func (s *Server) sparkUILinks(r *http.Request, ns, run string) []string {
	ing := &networkingv1.Ingress{}
	if err := s.reader.Get(r.Context(), client.ObjectKey{Namespace: ns, Name: runid.IngressName(run)}, ing); err != nil {
		if !apierrors.IsNotFound(err) {
			s.log.Debug("unable to read the Spark UI Ingress", "namespace", ns, "run", run, "error", err)
		}
		return nil
	}
	tls := map[string]bool{}
	for _, t := range ing.Spec.TLS {
		for _, h := range t.Hosts {
			tls[h] = true
		}
	}
	var links []string
	for _, rule := range ing.Spec.Rules {
		if rule.Host == "" || rule.HTTP == nil {
			continue
		}
		scheme := "http://"
		if tls[rule.Host] {
			scheme = "https://"
		}
		for _, p := range rule.HTTP.Paths {
			links = append(links, scheme+rule.Host+p.Path)
		}
	}
	return links
}
