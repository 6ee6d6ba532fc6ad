package runid

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// crdDefaultsJSON is the part of the SparkJob CRD's schema that carries
// defaults, written by hack/crddefaults from deploy/crds (make generate).
//
//go:embed zz_generated.crd_defaults.json
var crdDefaultsJSON []byte

// schemaDefaults is a node of crdDefaultsJSON: an OpenAPI schema reduced to
// what defaulting reads.
type schemaDefaults struct {
	Default              any                        `json:"default,omitempty"`
	Nullable             bool                       `json:"nullable,omitempty"`
	Properties           map[string]*schemaDefaults `json:"properties,omitempty"`
	Items                *schemaDefaults            `json:"items,omitempty"`
	AdditionalProperties *schemaDefaults            `json:"additionalProperties,omitempty"`
}

// specDefaults is the schema of the CRD's spec, read once.
var specDefaults = sync.OnceValues(func() (*schemaDefaults, error) {
	root := &schemaDefaults{}
	if err := json.Unmarshal(crdDefaultsJSON, root); err != nil {
		return nil, err
	}
	return root.Properties["spec"], nil
})

// fill sets the schema's defaults into x as the API server does for a
// custom resource (k8s.io/apiextensions-apiserver's structural defaulting:
// a missing property, or a null where null is not allowed, takes its
// default). That package is not imported: it brings in the API server's
// CEL and feature-gate machinery, megabytes for forty lines.
func (s *schemaDefaults) fill(x any) {
	if s == nil {
		return
	}
	switch x := x.(type) {
	case map[string]any:
		for k, p := range s.Properties {
			if v, ok := x[k]; p.Default != nil && (!ok || (v == nil && !p.Nullable)) {
				x[k] = runtime.DeepCopyJSONValue(p.Default)
			}
		}
		for k, v := range x {
			if p, ok := s.Properties[k]; ok {
				p.fill(v)
			} else if s.AdditionalProperties != nil {
				s.AdditionalProperties.fill(v)
			}
		}
	case []any:
		for _, v := range x {
			s.Items.fill(v)
		}
	}
}

// AppliedSpecDigest is the digest of what a SparkJob would run, as the API
// server stores it: its namespace, name, the labels that go onto its pods
// and its spec, as AppliedSpec has them. The source loop writes it,
// computed from the job in git, onto each SparkJob it applies
// (sparkcd.io/applied-spec-digest); the job loop computes it from the
// SparkJob it reads, and starts no run while the two differ. Metadata
// other than the propagated labels, and the status, change nothing a run
// does, and are left out.
func AppliedSpecDigest(job *v1alpha1.SparkJob) (string, error) {
	j, err := AppliedSpec(job)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(hashInput{Namespace: j.Namespace, Name: j.Name, Labels: j.Labels, Spec: j.Spec})
	if err != nil {
		return "", fmt.Errorf("unable to encode SparkJob '%s/%s': %w", j.Namespace, j.Name, err)
	}
	return Digest(b), nil
}

// AppliedSpec is the part of job that AppliedSpecDigest covers, in the
// form the API server stores: a copy with only its namespace, name and
// propagated labels in metadata, and its spec after SetDefaults and after
// the defaults of the SparkJob CRD's schema (a file key reference's
// `optional: false`, a port's protocol TCP…), which the API server adds
// to every SparkJob it stores. Taking the CRD's defaults on both sides
// makes the spec in git and the spec read back from the API server equal
// for an unchanged job: they differ only when the spec changed after the
// apply.
func AppliedSpec(job *v1alpha1.SparkJob) (*v1alpha1.SparkJob, error) {
	j := &v1alpha1.SparkJob{Spec: *job.Spec.DeepCopy()}
	j.Namespace, j.Name, j.Labels = job.Namespace, job.Name, PropagatedLabels(job.Labels)
	v1alpha1.SetDefaults(j)
	schema, err := specDefaults()
	if err != nil {
		return nil, fmt.Errorf("unable to read the SparkJob CRD's defaults: %w", err)
	}
	if schema == nil {
		return j, nil
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&j.Spec)
	if err != nil {
		return nil, fmt.Errorf("unable to convert the spec of SparkJob '%s/%s': %w", j.Namespace, j.Name, err)
	}
	schema.fill(u)
	spec := v1alpha1.SparkJobSpec{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u, &spec); err != nil {
		return nil, fmt.Errorf("unable to convert the spec of SparkJob '%s/%s': %w", j.Namespace, j.Name, err)
	}
	j.Spec = spec
	v1alpha1.SetDefaults(j)
	return j, nil
}
