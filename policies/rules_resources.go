package policies

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/sparkconf"
)

// Resource rules. Cores are the pod's cpu request (spark.*.cores unless a
// coreRequest is set), what the scheduler reserves on a node; memory is the
// pod's memory, overhead included.

func checkDriverCores(c *compiled, f *facts) ([]violation, error) {
	d, err := f.driverPod()
	if err != nil {
		return nil, err
	}
	return podCores(c, f.job, v1alpha1.RoleDriver, d, c.rules.MaxDriverCores, ""), nil
}

func checkDriverMemory(c *compiled, f *facts) ([]violation, error) {
	d, err := f.driverPod()
	if err != nil {
		return nil, err
	}
	return podMemory(c, f.job, v1alpha1.RoleDriver, d, c.rules.MaxDriverMemory, ""), nil
}

func checkExecutorCores(c *compiled, f *facts) ([]violation, error) {
	e, err := f.executorPod()
	if err != nil {
		return nil, err
	}
	return podCores(c, f.job, v1alpha1.RoleExecutor, e, c.rules.MaxExecutorCores, ""), nil
}

func checkExecutorMemory(c *compiled, f *facts) ([]violation, error) {
	e, err := f.executorPod()
	if err != nil {
		return nil, err
	}
	return podMemory(c, f.job, v1alpha1.RoleExecutor, e, c.rules.MaxExecutorMemory, ""), nil
}

// checkExecutorFitsNode: one executor pod's requests must fit what a node
// offers, or the executor stays Pending for ever.
func checkExecutorFitsNode(c *compiled, f *facts) ([]violation, error) {
	e, err := f.executorPod()
	if err != nil {
		return nil, err
	}
	const why = " (what a node offers)"
	na := c.rules.NodeAllocatable
	var vs []violation
	if na.CPU != nil {
		vs = append(vs, podCores(c, f.job, v1alpha1.RoleExecutor, e, na.CPU, why)...)
	}
	if na.Memory != nil {
		vs = append(vs, podMemory(c, f.job, v1alpha1.RoleExecutor, e, na.Memory, why)...)
	}
	return vs, nil
}

// podCores checks one pod's cpu request against limit.
func podCores(c *compiled, job *v1alpha1.SparkJob, role string, p *sparkconf.PodResources, limit *resource.Quantity, why string) []violation {
	if p.CPURequest.Cmp(*limit) <= 0 {
		return nil
	}
	return one(cpuPath(job, role), "%s pod cpu request is %s, policy %q allows at most %s%s",
		role, fmtCPU(p.CPURequest), c.name, limit.String(), why)
}

// podMemory checks one pod's memory against limit.
func podMemory(c *compiled, job *v1alpha1.SparkJob, role string, p *sparkconf.PodResources, limit *resource.Quantity, why string) []violation {
	if !exceedsMiB(p.MemoryMiB, limit) {
		return nil
	}
	parts := fmt.Sprintf("memory %dMi + overhead %dMi", p.HeapMiB, p.OverheadMiB)
	if extra := p.MemoryMiB - p.HeapMiB - p.OverheadMiB; extra > 0 {
		parts += fmt.Sprintf(" + off-heap and PySpark %dMi", extra)
	}
	return one(memoryPath(job, role), "%s pod memory is %dMi (%s), policy %q allows at most %s%s",
		role, p.MemoryMiB, parts, c.name, limit.String(), why)
}

// jobEnvelope is the job's envelope and where its peak executor count
// comes from.
func jobEnvelope(f *facts) (Envelope, string, error) {
	d, e, err := f.pods()
	if err != nil {
		return Envelope{}, "", err
	}
	a, err := f.allocation()
	if err != nil {
		return Envelope{}, "", err
	}
	return envelopeOf(d, e, a), peakPath(f.job, a.Dynamic), nil
}

func checkJobCores(c *compiled, f *facts) ([]violation, error) {
	env, field, err := jobEnvelope(f)
	if err != nil {
		return nil, err
	}
	limit := c.rules.MaxJobCores
	if env.PeakCPU == nil {
		return one(field, "maxExecutors unset: the job may grow without bound, policy %q allows at most %s cores",
			c.name, limit.String()), nil
	}
	if env.PeakCPU.Cmp(*limit) <= 0 {
		return nil, nil
	}
	return one(field, "job cpu at peak is %s (driver %s + %d executors x %s), policy %q allows at most %s",
		env.PeakCPU.String(), env.DriverCPU.String(), *env.PeakExecutors, env.ExecutorCPU.String(),
		c.name, limit.String()), nil
}

func checkJobMemory(c *compiled, f *facts) ([]violation, error) {
	env, field, err := jobEnvelope(f)
	if err != nil {
		return nil, err
	}
	limit := c.rules.MaxJobMemory
	if env.PeakMemoryMiB == nil {
		return one(field, "maxExecutors unset: the job may grow without bound, policy %q allows at most %s of memory",
			c.name, limit.String()), nil
	}
	if !exceedsMiB(*env.PeakMemoryMiB, limit) {
		return nil, nil
	}
	return one(field, "job memory at peak is %dMi (driver %dMi + %d executors x %dMi), policy %q allows at most %s",
		*env.PeakMemoryMiB, env.DriverMemoryMiB, *env.PeakExecutors, env.ExecutorMemoryMiB, c.name, limit.String()), nil
}
