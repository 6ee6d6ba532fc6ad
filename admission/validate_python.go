package admission

import (
	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/sparkconf"
)

// validatePythonVersion checks spec.pythonVersion as Spark checks
// spark.kubernetes.pyspark.pythonVersion: "2" or "3" before Spark 3.1,
// only "3" since (an unset sparkVersion is the newest Spark).
func validatePythonVersion(f *findings, s *v1alpha1.SparkJobSpec) {
	if s.PythonVersion == nil {
		return
	}
	v := *s.PythonVersion
	version := "sparkVersion unset, so the newest Spark"
	if s.SparkVersion != "" {
		version = "sparkVersion " + quoted(s.SparkVersion)
	}
	switch {
	case v == "3":
	case v == "2" && !sparkconf.AtLeast(s.SparkVersion, 3, 1):
	case v == "2":
		f.errorf(RuleInvalidPythonVersion, "spec.pythonVersion", "spec.pythonVersion is '2' (%s): Spark 3.1 and later run Python 3 only and refuse it; expected '3' or unset", version)
	default:
		f.errorf(RuleInvalidPythonVersion, "spec.pythonVersion", "spec.pythonVersion is %s: expected '3', or '2' for Spark before 3.1", quoted(v))
	}
}
