package render

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// Origin says where a job was read from.
type Origin struct {
	// File is the source file, relative to the repository root, as recorded
	// by kustomize's origin annotation (or the file itself for plain YAML).
	File string `json:"file"`
	// Unit is the path that was built: the kustomization directory, the
	// plain directory or the file, relative to the repository root.
	Unit string `json:"unit"`
	// Kind is the kind the job was written as: SparkJob, SparkApplication or
	// ScheduledSparkApplication.
	Kind string `json:"kind"`
}

// Job is one SparkJob read from a jobs directory, before any defaulting.
type Job struct {
	// Object is the decoded (and, for Spark Operator kinds, converted) job.
	// It is nil when the document could not be decoded at all; Findings
	// then say why.
	Object *v1alpha1.SparkJob
	// Name and Namespace identify the job even when Object is nil.
	Name, Namespace string
	// Origin is where the job came from.
	Origin Origin
	// Findings found while decoding: unknown fields, unsupported
	// SparkApplication fields.
	Findings []v1alpha1.Finding
}

// Run identifies one run of a job.
type Run struct {
	// Name of the run, a DNS-1035 label of at most 63 characters; the driver
	// pod is "<Name>-driver".
	Name string
	// AppID is spark.app.id: "spark-" and 32 hex characters.
	AppID string
	// Revision of the source the spec came from.
	Revision string
	// Trigger is what started the run.
	Trigger v1alpha1.RunTrigger
	// SpecHash of the spec the run starts with.
	SpecHash string
}

// Objects are what one run of a job creates. The Pod is created first; the
// others carry a controller ownerReference to it, filled in by whoever
// creates them once the pod's UID is known.
type Objects struct {
	Pod       *corev1.Pod
	ConfigMap *corev1.ConfigMap
	Service   *corev1.Service
	// Ingress is nil unless the job asks for one.
	Ingress *networkingv1.Ingress
}
