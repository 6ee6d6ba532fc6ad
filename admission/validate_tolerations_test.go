package admission

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/materialize"
	"github.com/sparkcd/sparkcd/runid"
)

// TestTolerationsMatchAPIServer puts each toleration on the driver, and on
// the executor's pod template, of a valid job, and checks that sparkcd
// refuses it with an invalid-toleration finding on the right field exactly
// when the API server refuses the rendered pod (a dry-run create) as
// invalid. The first is the corpus's typo, a key ending in '"'.
func TestTolerationsMatchAPIServer(t *testing.T) {
	e := env.Env(t)
	ns := e.Namespace(t)
	cases := []struct {
		t     corev1.Toleration
		field string // the invalid field, "" when valid
	}{
		{corev1.Toleration{Key: `spark-operator-benchmark-ng"`, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}, "key"},
		{corev1.Toleration{Key: "dedicated", Value: "spark", Effect: corev1.TaintEffectNoSchedule}, ""},
		{corev1.Toleration{Key: "example.com/gpu", Operator: corev1.TolerationOpExists}, ""},
		{corev1.Toleration{Operator: corev1.TolerationOpExists}, ""},
		{corev1.Toleration{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)}, ""},
		{corev1.Toleration{Key: "-bad-", Operator: corev1.TolerationOpExists}, "key"},
		{corev1.Toleration{Operator: corev1.TolerationOpEqual, Value: "spark"}, "operator"},
		{corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists, Value: "spark"}, "value"},
		{corev1.Toleration{Key: "dedicated", Value: "not a label value"}, "value"},
		{corev1.Toleration{Key: "dedicated", Operator: "In"}, "operator"},
		{corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists, Effect: "NoRun"}, "effect"},
		{corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: ptr.To[int64](30)}, "effect"},
	}
	for i, c := range cases {
		for _, role := range []string{"driver", "executor"} {
			t.Run(fmt.Sprintf("%d/%s", i, role), func(t *testing.T) {
				j := validTestJob()
				j.Namespace = ns
				path := "spec.driver.tolerations[0]"
				if role == "driver" {
					j.Spec.Driver.Tolerations = []corev1.Toleration{c.t}
				} else {
					path = "spec.executor.template.spec.tolerations[0]"
					j.Spec.Executor.Template = &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Tolerations: []corev1.Toleration{c.t}}}
				}
				v := Job(j, Options{})
				var got []string
				for _, f := range v.Findings {
					if f.Rule == RuleInvalidToleration && f.Severity == v1alpha1.SeverityError {
						got = append(got, f.Field)
					}
				}
				if want := path + "." + c.field; c.field != "" && !slices.Contains(got, want) || c.field == "" && len(got) > 0 {
					t.Errorf("toleration %+v: invalid-toleration findings on %v, want %q", c.t, got, c.field)
				}
				objs, err := materialize.Materialize(v.Job, runid.OfflineRun(v.Job, ""), materialize.DefaultOptions())
				if err != nil {
					t.Fatal(err)
				}
				pod := objs.Pod
				if role == "executor" {
					pod = objs.Executor
				}
				_, err = e.Clientset.CoreV1().Pods(ns).Create(t.Context(), pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
				if refused := apierrors.IsInvalid(err); refused != (c.field != "") {
					t.Errorf("toleration %+v: sparkcd refuses it: %v; the API server: %v", c.t, c.field != "", err)
				} else if err != nil && !refused {
					t.Fatal(err)
				}
			})
		}
	}
}
