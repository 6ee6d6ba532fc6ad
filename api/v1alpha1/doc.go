// Package v1alpha1 holds the sparkcd.io/v1alpha1 API: SparkJob, JobSource and
// AllocationPolicy, their defaults, the labels and annotations sparkcd puts on
// the objects it creates, and the Finding type every check reports with.
//
// SparkJob's spec reuses the field names of the Kubeflow Spark Operator's
// SparkApplication v1beta2 wherever the two share a concept, so a team moves a
// SparkApplication into a jobs repository by changing apiVersion and kind.
//
// +kubebuilder:object:generate=true
// +groupName=sparkcd.io
package v1alpha1
