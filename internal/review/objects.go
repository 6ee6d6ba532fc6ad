package review

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"runtime"

	"golang.org/x/sync/errgroup"
	kruntime "k8s.io/apimachinery/pkg/runtime"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/materialize"
	"github.com/sparkcd/sparkcd/render/yamldoc"
	"github.com/sparkcd/sparkcd/runid"
)

// RunObjects renders, for every job of the report that has no error
// finding, the job after defaults followed by the ConfigMap, Service, Pod
// and Ingress of the run it would start offline (run name
// "<job>-<first 8 hex of its spec hash>"). Jobs with errors are skipped; the
// caller reports their findings.
func (r *Report) RunObjects(revision string, opts materialize.Options) ([]kruntime.Object, error) {
	var out []kruntime.Object
	for i := range r.Jobs {
		j := &r.Jobs[i]
		if j.Job == nil || j.Errors() > 0 {
			continue
		}
		objs, err := j.Objects(runid.OfflineRun(j.Job, revision), opts, false)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// Objects returns the job after defaults followed by the objects of the
// given run. A job with error findings yields only itself unless force is
// set, in which case its objects are rendered when they can be.
func (j *JobReport) Objects(run runid.Identity, opts materialize.Options, force bool) ([]kruntime.Object, error) {
	if j.Job == nil {
		return nil, nil
	}
	job := j.Job.DeepCopy()
	job.APIVersion = v1alpha1.GroupVersion.String()
	job.Kind = v1alpha1.SparkJobKind
	if j.Errors() > 0 && !force {
		return []kruntime.Object{job}, nil
	}
	objs, err := materialize.Materialize(job, run, opts)
	if err != nil && force {
		return []kruntime.Object{job}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("unable to render job '%s/%s' from '%s': %w", j.Namespace, j.Name, j.Source, err)
	}
	out := []kruntime.Object{job, objs.ConfigMap, objs.Service, objs.Pod}
	for _, d := range objs.Dependents()[2:] {
		out = append(out, d)
	}
	return out, nil
}

// WriteObjects writes objects as multi-document YAML, or as one JSON list,
// with keys in a stable order and without the empty fields Kubernetes types
// carry before they reach a server (creationTimestamp: null, status: {}).
// Objects are encoded on every CPU, since encoding a thousand jobs' objects
// costs as much as building them, and written in their order.
func WriteObjects(w io.Writer, objs []kruntime.Object, format string) error {
	return WriteObjectsMarked(w, objs, format, nil)
}

// WriteObjectsMarked is WriteObjects with, in YAML, the comment marker
// returns (when not "") written at the head of an object's document: render
// marks where each job's objects start.
func WriteObjectsMarked(w io.Writer, objs []kruntime.Object, format string, marker func(kruntime.Object) string) error {
	if err := CheckFormat(format, ObjectFormats); err != nil {
		return err
	}
	if format == "name" {
		return writeObjectNames(w, objs)
	}
	items := make([]map[string]any, len(objs))
	docs := make([][]byte, len(objs))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, o := range objs {
		g.Go(func() error {
			if format != "json" {
				var err error
				docs[i], err = objectYAML(o)
				return err
			}
			m, err := cleanObject(o)
			items[i] = m
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if format == "json" {
		list := map[string]any{"apiVersion": "v1", "kind": "List", "items": items}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	bw := bufio.NewWriter(w)
	for i, b := range docs {
		if i > 0 {
			_, _ = bw.WriteString("---\n")
		}
		if marker != nil {
			if m := marker(objs[i]); m != "" {
				_, _ = bw.WriteString(m + "\n")
			}
		}
		_, _ = bw.Write(b)
	}
	return bw.Flush()
}

// JobMarker returns, for a SparkJob of the report, the comment render
// prints before its objects: "# --- job NAMESPACE/NAME (FILE)".
func (r *Report) JobMarker() func(kruntime.Object) string {
	files := make(map[string]string, len(r.Jobs))
	for i := range r.Jobs {
		files[r.Jobs[i].Namespace+"/"+r.Jobs[i].Name] = r.Jobs[i].Source
	}
	return func(o kruntime.Object) string {
		j, ok := o.(*v1alpha1.SparkJob)
		if !ok {
			return ""
		}
		return fmt.Sprintf("# --- job %s/%s (%s)", j.Namespace, j.Name, files[j.Namespace+"/"+j.Name])
	}
}

func cleanObject(o kruntime.Object) (map[string]any, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	dropEmptyFields(m)
	return m, nil
}

// objectYAML is cleanObject written as YAML: the text sigs.k8s.io/yaml
// gives for cleanObject's map, without its second JSON round trip.
func objectYAML(o kruntime.Object) ([]byte, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	doc, err := yamldoc.Decode(b)
	if err != nil {
		return nil, err
	}
	if m, ok := doc.(map[string]any); ok {
		dropEmptyFields(m)
	}
	return yamldoc.Encode(doc)
}

// dropEmptyFields removes what a typed object carries before it reaches a
// server: a null creationTimestamp and the status.
func dropEmptyFields(m map[string]any) {
	if md, ok := m["metadata"].(map[string]any); ok {
		if md["creationTimestamp"] == nil {
			delete(md, "creationTimestamp")
		}
	}
	// Nothing sparkcd creates carries a status: the API server and the
	// controllers write it (a PodDisruptionBudget's zero counters are not
	// sparkcd's to show).
	delete(m, "status")
}
