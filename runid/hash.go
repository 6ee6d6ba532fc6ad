package runid

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// hashInput is what SpecHash covers: what decides the objects of a run.
type hashInput struct {
	Namespace string                `json:"namespace"`
	Name      string                `json:"name"`
	Labels    map[string]string     `json:"labels,omitempty"`
	Spec      v1alpha1.SparkJobSpec `json:"spec"`
}

// SpecHash returns the hex SHA-256 of the canonical JSON of the job after
// SetDefaults: its namespace, name, the metadata labels that Materialize
// copies onto the pods, and its spec. Everything else in metadata (other
// labels, annotations, resourceVersion, generation, managedFields…) and the
// status are left out, so re-applying, re-labelling by a tool, or a status
// update never start a run. encoding/json writes struct fields in a fixed
// order and map keys sorted, which makes the JSON canonical.
func SpecHash(job *v1alpha1.SparkJob) string {
	j := job.DeepCopy()
	v1alpha1.SetDefaults(j)
	in := hashInput{
		Namespace: j.Namespace,
		Name:      j.Name,
		Labels:    PropagatedLabels(j.Labels),
		Spec:      j.Spec,
	}
	b, err := json.Marshal(in)
	if err != nil {
		// The API types always marshal; keep the hash total anyway.
		b = []byte(err.Error())
	}
	return Digest(b)
}

// Digest is the lowercase hex SHA-256 of b: the one hash behind spec
// hashes, app ids, run-name suffixes and derived object names, so a prefix
// of it means the same everywhere.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// DigestOf is Digest of parts joined by "/".
func DigestOf(parts ...string) string { return Digest([]byte(strings.Join(parts, "/"))) }

// Short is the first 8 characters of a hash, as run names and messages show
// it.
func Short(hash string) string {
	if len(hash) > 8 {
		return hash[:8]
	}
	return hash
}

// PropagatedLabels are the job's metadata labels that go onto the driver and
// executor pods, as the Spark Operator copies a SparkApplication's labels:
// all but sparkcd's own (sparkcd.io/…), the ones sparkcd sets on pods itself,
// and tooling labels (kustomize.toolkit.fluxcd.io/…, argocd.argoproj.io/…).
func PropagatedLabels(labels map[string]string) map[string]string {
	var out map[string]string
	for k, v := range labels {
		if !propagatedLabel(k) {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(labels))
		}
		out[k] = v
	}
	return out
}

func propagatedLabel(key string) bool {
	switch key {
	case v1alpha1.LabelSparkRole, v1alpha1.LabelSparkAppSelector, v1alpha1.LabelSparkAppName,
		v1alpha1.LabelOperatorAppName, v1alpha1.LabelManagedBy, "spark-exec-id", "spark-exec-resourceprofile-id":
		return false
	}
	for _, prefix := range []string{"sparkcd.io/", "kustomize.toolkit.fluxcd.io/", "argocd.argoproj.io/", "app.kubernetes.io/instance"} {
		if strings.HasPrefix(key, prefix) {
			return false
		}
	}
	return true
}
