package policies

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// The rules on how a job is queued and gang-scheduled (docs/queueing.md).
const (
	// RuleBatchScheduler: the job's batchScheduler is one the policy
	// allows (rules.batchScheduler.allowed); naming none breaks it too.
	RuleBatchScheduler = "batch-scheduler"
	// RuleQueue: the job names a queue (rules.batchScheduler.requireQueue)
	// and one the policy allows (rules.batchScheduler.allowedQueues).
	RuleQueue = "queue"
)

const (
	pathBatchScheduler = "spec.batchScheduler"
	pathQueue          = "spec.batchSchedulerOptions.queue"
)

func schedulerRules(c *compiled) *v1alpha1.BatchSchedulerRules {
	if c.rules.BatchScheduler == nil {
		return &v1alpha1.BatchSchedulerRules{}
	}
	return c.rules.BatchScheduler
}

func hasBatchSchedulerRule(c *compiled) bool { return len(schedulerRules(c).Allowed) > 0 }

func hasQueueRule(c *compiled) bool {
	r := schedulerRules(c)
	return r.RequireQueue || len(r.AllowedQueues) > 0
}

func checkBatchScheduler(c *compiled, f *facts) ([]violation, error) {
	allowed := schedulerRules(c).Allowed
	bs := f.job.Spec.BatchScheduler
	if bs == nil || *bs == "" {
		return one(pathBatchScheduler, "the job names no batch scheduler: set one of %s", listOf(allowed)), nil
	}
	if !slices.Contains(allowed, *bs) {
		return one(pathBatchScheduler, "'%s' is not allowed here: set one of %s", *bs, listOf(allowed)), nil
	}
	return nil, nil
}

func checkQueue(c *compiled, f *facts) ([]violation, error) {
	r := schedulerRules(c)
	q := ""
	if o := f.job.Spec.BatchSchedulerOptions; o != nil && o.Queue != nil {
		q = *o.Queue
	}
	switch {
	case q == "" && r.RequireQueue:
		return one(pathQueue, "the job names no queue: set batchSchedulerOptions.queue%s", allowedSuffix(r.AllowedQueues)), nil
	case q != "" && len(r.AllowedQueues) > 0 && !slices.Contains(r.AllowedQueues, q):
		return one(pathQueue, "queue '%s' is not allowed here%s", q, allowedSuffix(r.AllowedQueues)), nil
	}
	return nil, nil
}

func allowedSuffix(queues []string) string {
	if len(queues) == 0 {
		return ""
	}
	return ": use one of " + listOf(queues)
}

// listOf prints values as 'a', 'b' or 'c'.
func listOf[T ~string](values []T) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = "'" + string(v) + "'"
	}
	if len(quoted) == 1 {
		return quoted[0]
	}
	return strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
}

// fillBatchScheduler fills the batch scheduler and each option the job
// leaves unset; the resources as a whole.
func fillBatchScheduler(job *v1alpha1.SparkJob, d *v1alpha1.PolicyDefaults) {
	s := &job.Spec
	if d.BatchScheduler != nil && (s.BatchScheduler == nil || *s.BatchScheduler == "") {
		bs := *d.BatchScheduler
		s.BatchScheduler = &bs
	}
	def := d.BatchSchedulerOptions
	if def == nil {
		return
	}
	if s.BatchSchedulerOptions == nil {
		s.BatchSchedulerOptions = &v1alpha1.BatchSchedulerConfiguration{}
	}
	o := s.BatchSchedulerOptions
	if def.Queue != nil && (o.Queue == nil || *o.Queue == "") {
		o.Queue = clonePtr(def.Queue)
	}
	if def.PriorityClassName != nil && (o.PriorityClassName == nil || *o.PriorityClassName == "") {
		o.PriorityClassName = clonePtr(def.PriorityClassName)
	}
	if len(def.Resources) > 0 && len(o.Resources) == 0 {
		o.Resources = def.Resources.DeepCopy()
	}
}

// batchScheduler checks a policy's scheduler defaults and rules: known
// schedulers, non-empty queues, and defaults its own rules accept.
func (v *validator) batchScheduler(d *v1alpha1.PolicyDefaults, r *v1alpha1.PolicyRules) {
	known := []v1alpha1.BatchScheduler{v1alpha1.VolcanoScheduler, v1alpha1.YuniKornScheduler,
		v1alpha1.KubeSchedulerCoscheduling, v1alpha1.KueueScheduler}
	check := func(field string, bs v1alpha1.BatchScheduler) {
		if !slices.Contains(known, bs) {
			v.invalid(field, "'%s' is not a batch scheduler: expected %s", bs, listOf(known))
		}
	}
	var rules *v1alpha1.BatchSchedulerRules
	if r != nil {
		rules = r.BatchScheduler
	}
	if rules != nil {
		for i, bs := range rules.Allowed {
			check(fmt.Sprintf("spec.rules.batchScheduler.allowed[%d]", i), bs)
		}
		for i, q := range rules.AllowedQueues {
			if q == "" {
				v.invalid(fmt.Sprintf("spec.rules.batchScheduler.allowedQueues[%d]", i), "an empty queue name allows nothing")
			}
		}
	}
	if d == nil {
		return
	}
	if bs := d.BatchScheduler; bs != nil {
		check("spec.defaults.batchScheduler", *bs)
		if rules != nil && len(rules.Allowed) > 0 && !slices.Contains(rules.Allowed, *bs) {
			v.invalid("spec.defaults.batchScheduler", "'%s' breaks the policy's own rule: allowed are %s", *bs, listOf(rules.Allowed))
		}
	}
	if o := d.BatchSchedulerOptions; o != nil && o.Queue != nil && rules != nil && len(rules.AllowedQueues) > 0 && !slices.Contains(rules.AllowedQueues, *o.Queue) {
		v.invalid("spec.defaults.batchSchedulerOptions.queue", "'%s' breaks the policy's own rule: allowed are %s", *o.Queue, listOf(rules.AllowedQueues))
	}
}
