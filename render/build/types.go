package build

import "github.com/sparkcd/sparkcd/api/v1alpha1"

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
