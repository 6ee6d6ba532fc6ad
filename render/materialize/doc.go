// Package materialize turns one admitted job and a run identity into the
// Kubernetes objects of the run: the driver Pod, the ConfigMap
// (spark.properties, the executor pod template, log4j2.properties), the
// headless driver Service and the optional UI Ingress, exactly as
// spark-submit would have created them (see SPARK-FACTS.md).
//
// Materialize expects a job that admission.Admit accepted; it returns an
// error, never a partial set of objects, for one it cannot materialise.
package materialize
