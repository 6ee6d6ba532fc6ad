package build

import (
	"fmt"
	"regexp"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// RuleTemplateField is the rule of a pod template field that has no effect.
const RuleTemplateField = "template-field"

// templatePath matches a field inside a driver or executor pod template.
var templatePath = regexp.MustCompile(`^spec\.(template\.)?(driver|executor)\.template\.`)

// relaxTemplateFindings turns an unknown field inside a pod template into a
// warning. Both CRDs keep a template schemaless, as the Spark Operator does,
// so the API server accepts such a field; the Operator's typed decode, and
// sparkcd's, then drop it (a container setting such as 'capabilities' under
// the pod's securityContext, say). The job runs, without that field.
func relaxTemplateFindings(findings []v1alpha1.Finding) []v1alpha1.Finding {
	for i, f := range findings {
		if f.Rule != RuleUnknownField || !templatePath.MatchString(f.Field) {
			continue
		}
		findings[i] = v1alpha1.Finding{Severity: v1alpha1.SeverityWarning, Rule: RuleTemplateField, Field: f.Field,
			Message: fmt.Sprintf("%s: a Pod has no such field, so it is dropped from the pod template and has no effect", f.Message)}
	}
	return findings
}
