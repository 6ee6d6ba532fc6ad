package policies

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/sparkconf"
)

// Envelope is the most a job can take from the cluster: its driver pod, one
// executor pod, and the whole job at its peak executor count. CPU is the
// pods' cpu request; memory is the pods' memory, overhead included, which
// Spark makes both request and limit.
type Envelope struct {
	// DriverCPU is the driver pod's cpu request, such as "1" or "3400m".
	DriverCPU resource.Quantity `json:"driverCPU"`
	// DriverMemoryMiB is the driver pod's memory in MiB.
	DriverMemoryMiB int64 `json:"driverMemoryMiB"`
	// ExecutorCPU is one executor pod's cpu request.
	ExecutorCPU resource.Quantity `json:"executorCPU"`
	// ExecutorMemoryMiB is one executor pod's memory in MiB.
	ExecutorMemoryMiB int64 `json:"executorMemoryMiB"`
	// PeakExecutors is maxExecutors with dynamic allocation, the static
	// executor count without; null when dynamic allocation has no
	// maxExecutors and the job may grow without bound.
	PeakExecutors *int32 `json:"peakExecutors"`
	// PeakCPU is DriverCPU + PeakExecutors × ExecutorCPU; null when
	// unbounded.
	PeakCPU *resource.Quantity `json:"peakCPU"`
	// PeakMemoryMiB is DriverMemoryMiB + PeakExecutors × ExecutorMemoryMiB;
	// null when unbounded.
	PeakMemoryMiB *int64 `json:"peakMemoryMiB"`
	// BatchScheduler and Queue are the job's batchScheduler and
	// batchSchedulerOptions.queue after defaults, "" when unset.
	BatchScheduler string `json:"batchScheduler,omitempty"`
	Queue          string `json:"queue,omitempty"`
	// GangSize is, with a batch scheduler, the pods it places as the run
	// starts: the driver and the executors it asks for at once.
	GangSize int32 `json:"gangSize,omitempty"`
}

// ComputeEnvelope works out a job's resource envelope from its effective
// configuration, as Spark would size its pods. Pass the job Apply returns,
// so policy defaults count. It fails when a size or count in the job does
// not parse.
func ComputeEnvelope(job *v1alpha1.SparkJob) (Envelope, error) {
	f := &facts{job: job}
	d, e, err := f.pods()
	if err != nil {
		return Envelope{}, fmt.Errorf("unable to size the pods of '%s': %w", job.Name, err)
	}
	a, err := f.allocation()
	if err != nil {
		return Envelope{}, fmt.Errorf("unable to read the executor allocation of '%s': %w", job.Name, err)
	}
	env := envelopeOf(d, e, a)
	if bs := job.Spec.BatchScheduler; bs != nil && *bs != "" {
		env.BatchScheduler, env.GangSize = string(*bs), 1+a.StartExecutors()
		if o := job.Spec.BatchSchedulerOptions; o != nil && o.Queue != nil {
			env.Queue = *o.Queue
		}
	}
	return env, nil
}

// envelopeOf adds up a job's envelope.
func envelopeOf(d, e *sparkconf.PodResources, a *sparkconf.Allocation) Envelope {
	env := Envelope{
		DriverCPU:         *milliCPU(d.CPURequest.MilliValue()),
		DriverMemoryMiB:   d.MemoryMiB,
		ExecutorCPU:       *milliCPU(e.CPURequest.MilliValue()),
		ExecutorMemoryMiB: e.MemoryMiB,
	}
	if a.PeakExecutors == nil {
		return env
	}
	n := *a.PeakExecutors
	env.PeakExecutors = &n
	env.PeakCPU = milliCPU(d.CPURequest.MilliValue() + int64(n)*e.CPURequest.MilliValue())
	mem := d.MemoryMiB + int64(n)*e.MemoryMiB
	env.PeakMemoryMiB = &mem
	return env
}

// String prints the envelope on one line, for people:
// "driver 1 cpu 1408Mi, executors 4 cpu 5734Mi x 60, peak 241 cpu 345448Mi".
func (e Envelope) String() string {
	s := fmt.Sprintf("driver %s cpu %dMi, executors %s cpu %dMi x ",
		e.DriverCPU.String(), e.DriverMemoryMiB, e.ExecutorCPU.String(), e.ExecutorMemoryMiB)
	if e.PeakExecutors == nil || e.PeakCPU == nil || e.PeakMemoryMiB == nil {
		return s + "unbounded, peak unbounded" + e.Gang("; ")
	}
	return s + fmt.Sprintf("%d, peak %s cpu %dMi", *e.PeakExecutors, e.PeakCPU.String(), *e.PeakMemoryMiB) + e.Gang("; ")
}

// Gang prints how the job is queued, after sep: "gang of 3 pods by
// volcano in queue 'spark'"; "" without a batch scheduler.
func (e Envelope) Gang(sep string) string {
	if e.BatchScheduler == "" {
		return ""
	}
	s := fmt.Sprintf("%sgang of %d pods by %s", sep, e.GangSize, e.BatchScheduler)
	if e.Queue != "" {
		s += fmt.Sprintf(" in queue '%s'", e.Queue)
	}
	return s
}
