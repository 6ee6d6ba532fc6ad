package review

import (
	"encoding/json"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render"
)

// RunObjects renders, for every job of the report that has no error
// finding, the job after defaults followed by the ConfigMap, Service, Pod
// and Ingress of the run it would start offline (run name
// "<job>-<first 8 hex of its spec hash>"). Jobs with errors are skipped; the
// caller reports their findings.
func (r *Report) RunObjects(revision string, opts render.MaterializeOptions) ([]runtime.Object, error) {
	var out []runtime.Object
	for i := range r.Jobs {
		j := &r.Jobs[i]
		if j.Job == nil || j.Errors() > 0 {
			continue
		}
		objs, err := j.Objects(render.OfflineRun(j.Job, revision), opts, false)
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
func (j *JobReport) Objects(run render.Run, opts render.MaterializeOptions, force bool) ([]runtime.Object, error) {
	if j.Job == nil {
		return nil, nil
	}
	job := j.Job.DeepCopy()
	job.APIVersion = v1alpha1.GroupVersion.String()
	job.Kind = v1alpha1.SparkJobKind
	if j.Errors() > 0 && !force {
		return []runtime.Object{job}, nil
	}
	objs, err := render.Materialize(job, run, opts)
	if err != nil && force {
		return []runtime.Object{job}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("unable to render job '%s/%s' from '%s': %w", j.Namespace, j.Name, j.Source, err)
	}
	out := []runtime.Object{job, objs.ConfigMap, objs.Service, objs.Pod}
	if objs.Ingress != nil {
		out = append(out, objs.Ingress)
	}
	return out, nil
}

// WriteObjects writes objects as multi-document YAML, or as one JSON list,
// with keys in a stable order and without the empty fields Kubernetes types
// carry before they reach a server (creationTimestamp: null, status: {}).
func WriteObjects(w io.Writer, objs []runtime.Object, format string) error {
	items := make([]map[string]any, 0, len(objs))
	for _, o := range objs {
		m, err := cleanObject(o)
		if err != nil {
			return err
		}
		items = append(items, m)
	}
	switch format {
	case "", "yaml":
		for i, m := range items {
			b, err := yaml.Marshal(m)
			if err != nil {
				return err
			}
			if i > 0 {
				if _, err := io.WriteString(w, "---\n"); err != nil {
					return err
				}
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		return nil
	case "json":
		list := map[string]any{"apiVersion": "v1", "kind": "List", "items": items}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	default:
		return fmt.Errorf("%w '%s': use yaml or json", ErrUnknownFormat, format)
	}
}

func cleanObject(o runtime.Object) (map[string]any, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if md, ok := m["metadata"].(map[string]any); ok {
		if md["creationTimestamp"] == nil {
			delete(md, "creationTimestamp")
		}
	}
	if st, ok := m["status"].(map[string]any); ok && len(st) == 0 {
		delete(m, "status")
	}
	return m, nil
}
