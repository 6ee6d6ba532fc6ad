package deploy_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// TestTenantForbiddenField: an admission policy of the cluster forbids
// the tenant's account — and only it — host-network pods. The tenant's
// job that asks for one gets no driver: the API server refuses the pod
// to the account sparkcd impersonates, the SparkJob says so
// (ImpersonationForbidden, naming the account and the refusal), and the
// tenant's other job runs. The policy names the tenant's user: only
// because the run's pod goes out as the tenant does it apply.
func TestTenantForbiddenField(t *testing.T) {
	e := installed(t)
	nsA, _ := tenantNamespaces(t, e)
	tenant := "system:serviceaccount:" + nsA + ":" + tenantSA
	noHostNetworkFor(t, e, nsA, tenant)
	runAs(t, e, sparkcdToken(t, e), tenantLoops(t, reconciler.IdentityOptions{DefaultServiceAccount: tenantSA}))

	repo := gittest.NewRepo(t)
	repo.WriteFile(t, "jobs/pi-a.yaml", namedJob("pi-a", ""))
	repo.WriteFile(t, "jobs/pi-net.yaml", strings.Replace(namedJob("pi-net", ""),
		"driver: {cores: 1, memory: 1g, serviceAccount: spark}", "driver: {cores: 1, memory: 1g, serviceAccount: spark, hostNetwork: true}", 1))
	repo.CommitAndPush(t, "a job on the host's network")
	tenantSource(t, e, repo, "", nsA)

	eventually(t, "SparkJobs pi-a and pi-net applied", func() (bool, string) {
		jobs := sparkJobs(t, e, nsA)
		return len(jobs) == 2, fmt.Sprint(jobs)
	})
	waitTenantRun(t, e, nsA, "pi-a")
	eventually(t, "SparkJob pi-net refused its run", func() (bool, string) {
		job := &v1alpha1.SparkJob{}
		if err := e.Client.Get(t.Context(), client.ObjectKey{Namespace: nsA, Name: "pi-net"}, job); err != nil {
			return false, err.Error()
		}
		c := apimeta.FindStatusCondition(job.Status.Conditions, meta.ReadyCondition)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == reconciler.ReasonImpersonationForbidden &&
			strings.Contains(c.Message, "'"+nsA+"/"+tenantSA+"' may not create Pod") &&
			strings.Contains(c.Message, "tenants may not use the host's network"), fmt.Sprintf("Ready %+v", c)
	})
	pods := &corev1.PodList{}
	if err := e.Client.List(t.Context(), pods, client.InNamespace(nsA), client.MatchingLabels{v1alpha1.LabelJob: "pi-net"}); err != nil || len(pods.Items) > 0 {
		t.Errorf("pods of pi-net: %d, %v; want none", len(pods.Items), err)
	}
}

// noHostNetworkFor makes the API server refuse, in ns, host-network pods
// created by user (with reason Forbidden, as an authorization policy
// would), and waits until it does.
func noHostNetworkFor(t *testing.T, e *testenv.Env, ns, user string) {
	t.Helper()
	name := "no-host-network-" + ns
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}},
				ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
				}}},
			},
			Validations: []admissionregistrationv1.Validation{{
				Expression: fmt.Sprintf("request.userInfo.username != %q || !has(object.spec.hostNetwork) || !object.spec.hostNetwork", user),
				Message:    "tenants may not use the host's network",
				Reason:     ptr.To(metav1.StatusReasonForbidden),
			}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}},
	}
	for _, obj := range []client.Object{policy, binding} {
		if err := e.Client.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Client.Delete(context.Background(), obj) })
	}
	// The policy is in force once a host-network pod is refused to the
	// tenant (dry run).
	probe := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "probe"},
		Spec:       corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	cfg := rest.CopyConfig(e.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	as, err := client.New(cfg, client.Options{Scheme: e.Client.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the host-network policy in force in "+ns, func() (bool, string) {
		err := as.Create(t.Context(), probe.DeepCopy(), client.DryRunAll)
		return err != nil && strings.Contains(err.Error(), "host's network"), fmt.Sprint(err)
	})
}
