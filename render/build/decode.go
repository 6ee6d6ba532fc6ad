package build

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// The Spark Operator's API group and the kinds sparkcd converts from it.
const (
	OperatorGroup                 = "sparkoperator.k8s.io"
	OperatorVersion               = "v1beta2"
	SparkApplicationKind          = "SparkApplication"
	ScheduledSparkApplicationKind = "ScheduledSparkApplication"
)

// originAnnotation is the annotation krusty records a resource's source in.
const originAnnotation = "config.kubernetes.io/origin"

// Decode decodes every document of a YAML stream, such as one job file,
// into jobs: sparkcd.io/v1alpha1 SparkJobs strictly, and the Spark
// Operator's SparkApplication and ScheduledSparkApplication converted to
// SparkJobs. Problems with a job's fields are findings on that job; an
// object of a Spark kind sparkcd does not read (see readsObject) is a job
// with an unknown-kind finding; other kinds of object are skipped. The error, wrapping ErrMalformed, is for a
// stream that is not YAML or a document that is not an object.
func Decode(data []byte, origin Origin) ([]Job, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var jobs []Job
	for n := 1; ; n++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return jobs, nil
		}
		if err != nil {
			return jobs, fmt.Errorf("'%s': %w: %w", origin.File, ErrMalformed, err)
		}
		doc, err := yaml.YAMLToJSON(raw)
		if err != nil {
			return jobs, fmt.Errorf("'%s' document %d: %w: %w", origin.File, n, ErrMalformed, err)
		}
		doc = bytes.TrimSpace(doc)
		if len(doc) == 0 || bytes.Equal(doc, []byte("null")) {
			continue
		}
		if doc[0] != '{' {
			return jobs, fmt.Errorf("'%s' document %d is not an object: %w", origin.File, n, ErrMalformed)
		}
		var tm struct {
			APIVersion any `json:"apiVersion"`
			Kind       any `json:"kind"`
		}
		_ = json.Unmarshal(doc, &tm)
		apiVersion, _ := tm.APIVersion.(string)
		kind, _ := tm.Kind.(string)
		o := origin
		o.Kind = kind
		if job, ok := decodeObject(doc, apiVersion, kind, o); ok {
			jobs = append(jobs, job)
		}
	}
}

// decodeResource decodes one resource of a kustomize build. Its origin
// annotation, relative to unitDir, names the file it came from; the
// annotation itself is removed.
func decodeResource(r *resource.Resource, unit, unitDir string) (Job, bool) {
	apiVersion, kind := r.GetApiVersion(), r.GetKind()
	if !readsObject(apiVersion, kind) {
		return Job{}, false
	}
	o := Origin{Unit: unit, Kind: kind}
	if orig, err := r.GetOrigin(); err == nil && orig != nil {
		o.File = originFile(unitDir, orig)
	}
	if annotations := r.GetAnnotations(); len(annotations) > 0 {
		if _, ok := annotations[originAnnotation]; ok {
			delete(annotations, originAnnotation)
			_ = r.SetAnnotations(annotations)
		}
	}
	doc, err := r.MarshalJSON()
	if err != nil {
		// kyaml keeps a key written twice until the object is encoded; the
		// error names both lines.
		rule := RuleInvalidType
		if strings.Contains(err.Error(), "already defined") {
			rule = RuleDuplicateField
		}
		return Job{Name: r.GetName(), Namespace: r.GetNamespace(), Origin: o,
			Findings: []v1alpha1.Finding{{Severity: v1alpha1.SeverityError, Rule: rule,
				Message: fmt.Sprintf("unable to read the object: %v", err)}}}, true
	}
	return decodeObject(doc, apiVersion, kind, o)
}

// originFile is the repository path of a resource's source file.
func originFile(unitDir string, o *resource.Origin) string {
	if o.Repo != "" {
		f := o.Repo + "//" + filepath.ToSlash(o.Path)
		if o.Ref != "" {
			f += "?ref=" + o.Ref
		}
		return f
	}
	if o.Path == "" {
		return o.ConfiguredIn
	}
	return path.Clean(path.Join(unitDir, filepath.ToSlash(o.Path)))
}

func isJobGroup(apiVersion string) bool {
	gv, err := schema.ParseGroupVersion(apiVersion)
	return err == nil && (gv.Group == v1alpha1.GroupVersion.Group || gv.Group == OperatorGroup)
}

// decodeObject decodes one object of the job groups. It returns false for
// objects that are not jobs at all.
func decodeObject(doc []byte, apiVersion, kind string, o Origin) (Job, bool) {
	if !readsObject(apiVersion, kind) {
		return Job{}, false
	}
	gv, _ := schema.ParseGroupVersion(apiVersion)
	switch {
	case gv == v1alpha1.GroupVersion && kind == v1alpha1.SparkJobKind:
		obj, findings := strictDecode[v1alpha1.SparkJob](doc)
		return finishJob(doc, obj, relaxTemplateFindings(findings), o), true
	case gv.Group == OperatorGroup && gv.Version == OperatorVersion && kind == SparkApplicationKind:
		app, findings := strictDecode[sparkApplication](doc)
		var obj *v1alpha1.SparkJob
		if app != nil {
			obj, findings = convertSparkApplication(app, findings)
		}
		return finishJob(doc, obj, findings, o), true
	case gv.Group == OperatorGroup && gv.Version == OperatorVersion && kind == ScheduledSparkApplicationKind:
		app, findings := strictDecode[scheduledSparkApplication](doc)
		var obj *v1alpha1.SparkJob
		if app != nil {
			obj, findings = convertScheduledSparkApplication(app, findings)
		}
		return finishJob(doc, obj, findings, o), true
	case gv == v1alpha1.GroupVersion && (kind == "JobSource" || kind == "AllocationPolicy"):
		return Job{}, false
	}
	job := finishJob(doc, nil, nil, o)
	job.Findings = append([]v1alpha1.Finding{kindFinding(apiVersion, kind, job.Name)}, job.Findings...)
	return job, true
}

// finishJob sets the job's identity, from the object or, when it did not
// decode, from its metadata as far as it reads.
func finishJob(doc []byte, obj *v1alpha1.SparkJob, findings []v1alpha1.Finding, o Origin) Job {
	job := Job{Object: obj, Origin: o, Findings: findings}
	if obj != nil {
		obj.APIVersion, obj.Kind = v1alpha1.GroupVersion.String(), v1alpha1.SparkJobKind
		job.Name, job.Namespace = obj.Name, obj.Namespace
	} else {
		var meta struct {
			Metadata struct {
				Name      any `json:"name"`
				Namespace any `json:"namespace"`
			} `json:"metadata"`
		}
		_ = json.Unmarshal(doc, &meta)
		job.Name, _ = meta.Metadata.Name.(string)
		job.Namespace, _ = meta.Metadata.Namespace.(string)
	}
	if job.Name == "" {
		job.Findings = append(job.Findings, v1alpha1.Finding{Severity: v1alpha1.SeverityError, Rule: RuleMissingName,
			Field: "metadata.name", Message: "'metadata.name' is required"})
	}
	return job
}
