package policies

import (
	"slices"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/sparkconf"
)

// Apply returns a defaulted deep copy of job and the findings of every rule
// of every policy that selects the job's namespace.
//
// Defaults are filled in policy-name order, each only where the job (or a
// policy before it) leaves a value unset; a value the job sets through
// sparkConf counts as set. The rules then judge the defaulted job's
// effective configuration, as Spark will see it. A broken rule of an
// Enforce policy is an error finding, of an Audit policy a warning; each
// finding names its policy, its rule id, the field to fix and, in its
// message, the value found and the limit.
//
// job itself is never modified. Apply on a nil Set only copies the job.
func (s *Set) Apply(job *v1alpha1.SparkJob) (*v1alpha1.SparkJob, []v1alpha1.Finding) {
	if job == nil {
		return nil, nil
	}
	out := job.DeepCopy()
	if s == nil {
		return out, nil
	}
	var buf [8]*compiled
	selected := buf[:0]
	for _, c := range s.policies {
		if c.selects(out.Namespace) {
			selected = append(selected, c)
		}
	}
	for _, c := range selected {
		applyDefaults(out, c.policy.Spec.Defaults)
	}
	f := &facts{job: out}
	var findings []v1alpha1.Finding
	for _, c := range selected {
		findings = c.evaluate(f, findings)
	}
	return out, findings
}

// evaluate appends the findings of every rule of the policy. A rule that
// cannot be evaluated, because the job holds a value Spark would not
// accept, is a finding too: an Enforce policy must not admit a job it could
// not judge. One such finding per policy and cause is enough.
func (c *compiled) evaluate(f *facts, findings []v1alpha1.Finding) []v1alpha1.Finding {
	var failed []string
	for _, r := range c.checks {
		vs, err := r.check(c, f)
		if err != nil {
			msg := "unable to evaluate the rule: " + err.Error()
			if !slices.Contains(failed, msg) {
				failed = append(failed, msg)
				findings = append(findings, c.finding(r.id, "", msg))
			}
			continue
		}
		for _, v := range vs {
			findings = append(findings, c.finding(r.id, v.field, v.message))
		}
	}
	return findings
}

func (c *compiled) finding(rule, field, message string) v1alpha1.Finding {
	return v1alpha1.Finding{
		Severity: c.severity,
		Rule:     rule,
		Field:    field,
		Message:  message,
		Policy:   c.name,
	}
}

// facts are what the rules read of one job, each worked out at most once
// however many policies and rules ask for it.
type facts struct {
	job *v1alpha1.SparkJob

	allocDone, driverDone, executorDone bool
	alloc                               sparkconf.Allocation
	driver, executor                    sparkconf.PodResources
	allocErr, driverErr, executorErr    error
}

// allocation is the job's effective dynamic allocation.
func (f *facts) allocation() (*sparkconf.Allocation, error) {
	if !f.allocDone {
		f.alloc, f.allocErr = sparkconf.EffectiveAllocation(f.job)
		f.allocDone = true
	}
	return &f.alloc, f.allocErr
}

// driverPod is the driver pod's cpu and memory.
func (f *facts) driverPod() (*sparkconf.PodResources, error) {
	if !f.driverDone {
		f.driver, f.driverErr = sparkconf.DriverResources(f.job)
		f.driverDone = true
	}
	return &f.driver, f.driverErr
}

// executorPod is one executor pod's cpu and memory.
func (f *facts) executorPod() (*sparkconf.PodResources, error) {
	if !f.executorDone {
		f.executor, f.executorErr = sparkconf.ExecutorResources(f.job)
		f.executorDone = true
	}
	return &f.executor, f.executorErr
}

// pods returns the driver's and one executor's resources.
func (f *facts) pods() (driver, executor *sparkconf.PodResources, err error) {
	if driver, err = f.driverPod(); err != nil {
		return nil, nil, err
	}
	if executor, err = f.executorPod(); err != nil {
		return nil, nil, err
	}
	return driver, executor, nil
}
