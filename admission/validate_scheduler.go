package admission

import (
	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// RuleIgnoredSchedulerOption: batchSchedulerOptions sets something the
// job's batch scheduler does not read, as the Spark Operator ignores it
// there too (docs/queueing.md).
const RuleIgnoredSchedulerOption = "ignored-scheduler-option"

// schedulerNameKeys are the sparkConf keys Spark reads the pods' scheduler
// from; a batch scheduler names the scheduler itself.
var schedulerNameKeys = []string{"spark.kubernetes.scheduler.name", "spark.kubernetes.driver.scheduler.name", "spark.kubernetes.executor.scheduler.name"}

// validateBatchScheduler checks the batch scheduler's name (a
// SparkApplication may carry any string) and warns of options it ignores
// and of sparkConf scheduler names that would send executors elsewhere.
// Kueue is judged by its own rules.
func validateBatchScheduler(f *findings, s *v1alpha1.SparkJobSpec) {
	o := s.BatchSchedulerOptions
	if s.BatchScheduler == nil || *s.BatchScheduler == "" {
		if o != nil && (o.Queue != nil || o.PriorityClassName != nil || len(o.Resources) > 0) {
			f.warnf(RuleIgnoredSchedulerOption, "spec.batchSchedulerOptions", "spec.batchSchedulerOptions is set without spec.batchScheduler: the pods use the default scheduler and the options are ignored")
		}
		return
	}
	bs := *s.BatchScheduler
	switch bs {
	case v1alpha1.VolcanoScheduler, v1alpha1.YuniKornScheduler, v1alpha1.KubeSchedulerCoscheduling, v1alpha1.KueueScheduler:
	default:
		f.errorf(RuleInvalidEnum, "spec.batchScheduler", "spec.batchScheduler is %s: expected volcano, yunikorn, kube-scheduler or kueue", quoted(string(bs)))
		return
	}
	if bs == v1alpha1.KueueScheduler {
		return
	}
	for _, k := range schedulerNameKeys {
		if _, ok := s.SparkConf[k]; ok {
			f.warnf(RuleConflictingSparkConf, "spec.sparkConf["+quoted(k)+"]", "spec.sparkConf sets %s beside spec.batchScheduler %s: the batch scheduler names the pods' scheduler; remove the key", quoted(k), quoted(string(bs)))
		}
	}
	if o == nil {
		return
	}
	if o.Queue != nil && bs == v1alpha1.KubeSchedulerCoscheduling {
		f.warnf(RuleIgnoredSchedulerOption, "spec.batchSchedulerOptions.queue", "kube-scheduler coscheduling has no queues: spec.batchSchedulerOptions.queue is ignored")
	}
	if bs != v1alpha1.VolcanoScheduler {
		if o.PriorityClassName != nil {
			f.warnf(RuleIgnoredSchedulerOption, "spec.batchSchedulerOptions.priorityClassName", "only Volcano's PodGroup reads spec.batchSchedulerOptions.priorityClassName; with %s set the pods' priorityClassName instead", quoted(string(bs)))
		}
		if len(o.Resources) > 0 {
			f.warnf(RuleIgnoredSchedulerOption, "spec.batchSchedulerOptions.resources", "only Volcano's PodGroup reads spec.batchSchedulerOptions.resources; %s sizes the gang from the pods", quoted(string(bs)))
		}
	}
}
