package build

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// RuleUnsupportedKind is the finding on an object of a kind sparkcd knows
// and deliberately does not run: the Spark Operator's SparkConnect.
const RuleUnsupportedKind = "unsupported-kind"

// Kinds of Spark objects of other projects that sparkcd recognises.
const (
	SparkConnectKind = "SparkConnect"
	SparkClusterKind = "SparkCluster"
	// ApacheGroup is the API group of apache/spark-kubernetes-operator.
	ApacheGroup = "spark.apache.org"
)

// sparkKinds are the kinds that look like a Spark job or server whatever
// their group: an object of one of them is never skipped, so a manifest
// written for another operator (or a fork of the Spark Operator) is an
// error, not "0 jobs".
var sparkKinds = map[string]bool{
	v1alpha1.SparkJobKind:         true,
	SparkApplicationKind:          true,
	ScheduledSparkApplicationKind: true,
	SparkConnectKind:              true,
	SparkClusterKind:              true,
}

// readsObject reports whether decoding turns the object into a job (or a
// finding on one): every object of the job groups, and every object of a
// Spark kind in any other group. Everything else is not sparkcd's.
func readsObject(apiVersion, kind string) bool {
	return isJobGroup(apiVersion) || sparkKinds[kind]
}

// kindFinding is the error on an object decodeObject does not read: it
// names the object's apiVersion and kind, says why, and what sparkcd
// reads instead.
func kindFinding(apiVersion, kind, name string) v1alpha1.Finding {
	gv, _ := schema.ParseGroupVersion(apiVersion)
	f := v1alpha1.Finding{Severity: v1alpha1.SeverityError, Rule: RuleUnknownKind, Field: "apiVersion"}
	what := fmt.Sprintf("'%s' %s '%s'", apiVersion, kind, name)
	readInstead := fmt.Sprintf("sparkcd reads '%s' %s, and '%s/%s' %s and %s",
		v1alpha1.GroupVersion, v1alpha1.SparkJobKind, OperatorGroup, OperatorVersion,
		SparkApplicationKind, ScheduledSparkApplicationKind)
	switch {
	case gv.Group == OperatorGroup && kind == SparkConnectKind:
		f.Rule = RuleUnsupportedKind
		f.Message = fmt.Sprintf("%s is not run by sparkcd: a SparkConnect is a long-running Spark Connect server "+
			"that clients attach to, not a batch run that ends; sparkcd starts runs that end and records their outcome. "+
			"Keep it with the Spark Operator, or run the server as a Deployment and Service "+
			"(see docs/spark-compatibility.md, 'SparkConnect'); %s", what, readInstead)
	case gv.Group == ApacheGroup && kind == SparkApplicationKind:
		f.Message = fmt.Sprintf("%s is a SparkApplication of the Apache Spark Kubernetes Operator "+
			"(apache/spark-kubernetes-operator), which sparkcd does not read yet: write it as '%s/%s' %s or '%s' %s — "+
			"spec.mainClass stays spec.mainClass; spec.jars (Java/Scala) or spec.pyFiles (Python) becomes spec.mainApplicationFile "+
			"and spec.type; spec.driverArgs becomes spec.arguments; spec.runtimeVersions.sparkVersion becomes spec.sparkVersion; "+
			"sparkConf 'spark.kubernetes.container.image' becomes spec.image; spec.sparkConf stays spec.sparkConf "+
			"(see docs/spark-compatibility.md, 'Spark objects sparkcd does not read')",
			what, OperatorGroup, OperatorVersion, SparkApplicationKind, v1alpha1.GroupVersion, v1alpha1.SparkJobKind)
	case gv.Group == ApacheGroup && kind == SparkClusterKind:
		f.Message = fmt.Sprintf("%s is a standalone Spark cluster of the Apache Spark Kubernetes Operator, not a job: "+
			"sparkcd gives each run its own driver and executors on Kubernetes and has no cluster to declare; %s", what, readInstead)
	case kind == SparkConnectKind || kind == SparkClusterKind:
		f.Message = fmt.Sprintf("%s is not a kind sparkcd reads: it is a long-running Spark server or cluster, not a batch job; %s",
			what, readInstead)
	default:
		f.Message = fmt.Sprintf("apiVersion '%s' and kind '%s' are not a job sparkcd reads (object '%s'): use '%s' '%s', or '%s/%s' '%s' or '%s'",
			apiVersion, kind, name, v1alpha1.GroupVersion, v1alpha1.SparkJobKind,
			OperatorGroup, OperatorVersion, SparkApplicationKind, ScheduledSparkApplicationKind)
	}
	return f
}

// isKindRule reports whether a finding is about the object's kind.
func isKindRule(rule string) bool {
	return rule == RuleUnknownKind || rule == RuleUnsupportedKind
}

// withPlace prefixes a kind finding's message with the file and line the
// object is written at, so the text output names them too.
func withPlace(f *v1alpha1.Finding, file string, line int) {
	if file == "" || strings.HasPrefix(f.Message, "'"+file+"'") {
		return
	}
	if line > 0 {
		f.Message = fmt.Sprintf("'%s' line %d: %s", file, line, f.Message)
		return
	}
	f.Message = fmt.Sprintf("'%s': %s", file, f.Message)
}
