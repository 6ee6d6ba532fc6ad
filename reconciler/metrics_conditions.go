package reconciler

import (
	"github.com/prometheus/client_golang/prometheus"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/fluxcd/pkg/apis/meta"
)

// sourceCondition says, for each JobSource, which status each of its
// kstatus conditions has, as kube-state-metrics says it of a pod: 1 on the
// current status, 0 on the other two, 0 on all three when the condition
// is absent (kstatus reads an absent Stalled or Reconciling as False). An
// alert on a stalled or long unready source needs it; the status itself
// is not a series.
var sourceCondition = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "sparkcd_source_condition",
	Help: "1 for the status (True, False, Unknown) each JobSource's Ready, Reconciling and Stalled conditions have, 0 for the other statuses and for an absent condition.",
}, []string{"namespace", "name", "type", "status"})

// sourceConditionTypes are the conditions sourceCondition reports: a fixed
// list, so a source has at most nine series whatever else its status holds.
var sourceConditionTypes = []string{meta.ReadyCondition, meta.ReconcilingCondition, meta.StalledCondition}

// conditionStatuses are the statuses of a condition.
var conditionStatuses = []metav1.ConditionStatus{metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown}

func init() {
	metrics.Registry.MustRegister(sourceCondition)
}

// observeSourceConditions records the conditions a source's reconcile
// left, once its status is patched.
func observeSourceConditions(namespace, name string, conds []metav1.Condition) {
	for _, typ := range sourceConditionTypes {
		var current metav1.ConditionStatus
		if c := apimeta.FindStatusCondition(conds, typ); c != nil {
			current = c.Status
		}
		for _, s := range conditionStatuses {
			v := 0.0
			if s == current {
				v = 1
			}
			sourceCondition.WithLabelValues(namespace, name, typ, string(s)).Set(v)
		}
	}
}

// forgetSourceConditions drops the series of a deleted source.
func forgetSourceConditions(namespace, name string) {
	sourceCondition.DeletePartialMatch(prometheus.Labels{"namespace": namespace, "name": name})
}
