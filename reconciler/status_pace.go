package reconciler

import (
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// executorWritePace is the least time between two status writes of a job
// when the second would change only its runs' executor counts and
// insight. A driver asks for its executors in batches, one a second
// (spark.kubernetes.allocation.batch.size: 5 pods in Spark 3.5, 10 from
// Spark 4.0), and each executor pod wakes the job: written as they came,
// the executors of a run of ten cost four of its seven status writes
// (BenchmarkRunWrites, docs/scaling.md). Held back, they go with the next
// write, at most this much later.
const executorWritePace = 2 * time.Second

// paced says how long to hold back the status write of rc: zero when it
// is to be written now. A write is held back only when it would change
// nothing but executor counts and insight (no run started or ended, no
// event waits on it, no condition but the running run's message moved),
// and the job's last status write was less than executorWritePace ago;
// the reconcile is then requeued for the rest of that time, and the
// write it makes then is computed again from the cache. A stopped
// sparkcd loses at most executorWritePace of the executor timeline of a
// running run (the counts are read again from the pods).
func (r *JobReconciler) paced(rc *reconciliation, err error) time.Duration {
	if err != nil || len(rc.events) > 0 || !executorsOnly(&rc.base.Status, &rc.job.Status) {
		return 0
	}
	last, ok := r.written.lastWrite(client.ObjectKeyFromObject(rc.job))
	if !ok {
		return 0
	}
	return max(executorWritePace-time.Since(last), 0)
}

// executorsOnly reports whether two statuses differ, and only in their
// runs' executor counts and insight (and the Ready message that names
// the running run's executor count).
func executorsOnly(a, b *v1alpha1.SparkJobStatus) bool {
	if equality.Semantic.DeepEqual(a, b) {
		return false
	}
	return equality.Semantic.DeepEqual(withoutExecutors(a), withoutExecutors(b))
}

// withoutExecutors is a copy of s without its runs' executor counts and
// insight, and without the message (and so the transition time: a
// condition's message change moves it) of the conditions that name the
// running run's executor count.
func withoutExecutors(s *v1alpha1.SparkJobStatus) *v1alpha1.SparkJobStatus {
	c := s.DeepCopy()
	if c.LastRun != nil {
		running := runningMessage(c.LastRun)
		for i := range c.Conditions {
			if cond := &c.Conditions[i]; cond.Message == running {
				cond.Message, cond.LastTransitionTime = "", metav1.Time{}
			}
		}
		c.LastRun.Executors, c.LastRun.Insight = 0, nil
	}
	for i := range c.History {
		c.History[i].Executors, c.History[i].Insight = 0, nil
	}
	return c
}

// sooner is the earlier of two requeue delays, zero being none.
func sooner(a, b time.Duration) time.Duration {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}
