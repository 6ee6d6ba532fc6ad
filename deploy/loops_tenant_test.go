package deploy_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/runid"
)

// tenantSA is the service account of components/source-identity.
const tenantSA = "sparkcd-source"

// TestSourceImpersonation runs the source and job loops as sparkcd's pod
// does — with a token of its service account from the TokenRequest API,
// so every impersonation is checked against the deployed ClusterRole —
// for a tenant whose service account (components/source-identity) may
// write SparkJobs and runs in its own namespace only. An admission policy
// in that namespace refuses every pod, ConfigMap and Service not created
// by the tenant's account: a run that starts there was created as it.
func TestSourceImpersonation(t *testing.T) {
	e := installed(t)
	t.Run("default service account refuses cross-namespace targets", func(t *testing.T) { impersonateDefault(t, e) })
	t.Run("spec.serviceAccountName limits cross-namespace targets by RBAC", func(t *testing.T) { impersonateNamed(t, e) })
}

// impersonateDefault: with --default-source-service-account, a source
// that names no account writes as the default one of its namespace, and
// its job for another namespace is refused before anything is written.
func impersonateDefault(t *testing.T, e *testenv.Env) {
	nsA, nsB := tenantNamespaces(t, e)
	refused := runAs(t, e, sparkcdToken(t, e), tenantLoops(t, reconciler.IdentityOptions{
		DefaultServiceAccount: tenantSA, NoCrossNamespaceTargets: true,
	}))
	repo := gittest.NewRepo(t)
	repo.WriteFile(t, "jobs/pi-a.yaml", namedJob("pi-a", ""))
	repo.WriteFile(t, "jobs/pi-b.yaml", namedJob("pi-b", nsB))
	repo.WriteFile(t, "jobs/creds.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: pi-creds\nstringData:\n  password: tenant-s3cret\n")
	first := repo.CommitAndPush(t, "a job for each namespace, and a Secret")
	src := tenantSource(t, e, repo, "", nsA, nsB)

	got := waitSourceReason(t, e, src, first, reconciler.ReasonCrossNamespaceTargetsRefused)
	msg := apimeta.FindStatusCondition(got.Status.Conditions, meta.ReadyCondition).Message
	for _, want := range []string{"'pi-b'", "'" + nsB + "'"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Ready message %q does not name %s", msg, want)
		}
	}
	if rules := findingRules(got); rules["pi-b"] != reconciler.RuleCrossNamespaceTarget || rules["pi-creds"] != reconciler.RuleApplyRefused {
		t.Errorf("status.jobs rules = %v, want pi-b %s and pi-creds %s", rules, reconciler.RuleCrossNamespaceTarget, reconciler.RuleApplyRefused)
	}
	if jobs := sparkJobs(t, e, nsB); len(jobs) > 0 {
		t.Errorf("SparkJobs applied in namespace %s: %v", nsB, jobs)
	}
	waitTenantRun(t, e, nsA, "pi-a")

	repo.Remove(t, "jobs/pi-b.yaml")
	second := repo.CommitAndPush(t, "no cross-namespace job")
	requestReconcile(t, e, src)
	got = waitSourceReason(t, e, src, second, reconciler.ReasonImpersonationForbidden)
	msg = apimeta.FindStatusCondition(got.Status.Conditions, meta.ReadyCondition).Message
	for _, want := range []string{"'" + nsA + "/" + tenantSA + "'", "may not get Secret 'pi-creds'", "namespace '" + nsA + "'"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Ready message %q does not say %s", msg, want)
		}
	}
	if err := e.Client.Get(t.Context(), client.ObjectKey{Namespace: nsA, Name: "pi-creds"}, &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Errorf("Secret pi-creds: %v, want not found", err)
	}
	checkRefusals(t, refused(), []string{nsA, nsB}, "/namespaces/"+nsA+"/secrets/pi-creds")
}

// impersonateNamed: a source naming its account, cross-namespace targets
// allowed: the account's RBAC refuses the job in a namespace where it may
// not write; where it may, the SparkJob is applied but its runs are
// refused, their account not being of their namespace.
func impersonateNamed(t *testing.T, e *testenv.Env) {
	nsA, nsB := tenantNamespaces(t, e)
	// In nsC the tenant's account may write SparkJobs and pods, but a
	// run's objects are only ever created as an account of the run's
	// own namespace.
	nsC := e.Namespace(t)
	apply(t, e, sparkNamespace(t, nsC))
	grantTenant(t, e, nsC, nsA)
	refused := runAs(t, e, sparkcdToken(t, e), tenantLoops(t, reconciler.IdentityOptions{}))
	repo := gittest.NewRepo(t)
	repo.WriteFile(t, "jobs/pi-a.yaml", namedJob("pi-a", ""))
	repo.WriteFile(t, "jobs/pi-b.yaml", namedJob("pi-b", nsB))
	repo.WriteFile(t, "jobs/pi-c.yaml", namedJob("pi-c", nsC))
	commit := repo.CommitAndPush(t, "a job for each namespace")
	src := tenantSource(t, e, repo, tenantSA, nsA, nsB, nsC)

	got := waitSourceReason(t, e, src, commit, reconciler.ReasonImpersonationForbidden)
	msg := apimeta.FindStatusCondition(got.Status.Conditions, meta.ReadyCondition).Message
	for _, want := range []string{"'" + nsA + "/" + tenantSA + "'", "may not patch SparkJob 'pi-b'", "namespace '" + nsB + "'"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Ready message %q does not say %s", msg, want)
		}
	}
	if rules := findingRules(got); rules["pi-b"] != reconciler.RuleImpersonationForbidden {
		t.Errorf("status.jobs rules = %v, want pi-b %s", rules, reconciler.RuleImpersonationForbidden)
	}
	if jobs := sparkJobs(t, e, nsB); len(jobs) > 0 {
		t.Errorf("SparkJobs applied in namespace %s: %v", nsB, jobs)
	}
	waitTenantRun(t, e, nsA, "pi-a")

	eventually(t, "SparkJob pi-c refused its runs", func() (bool, string) {
		job := &v1alpha1.SparkJob{}
		if err := e.Client.Get(t.Context(), client.ObjectKey{Namespace: nsC, Name: "pi-c"}, job); err != nil {
			return false, err.Error()
		}
		c := apimeta.FindStatusCondition(job.Status.Conditions, meta.ReadyCondition)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == reconciler.ReasonRunIdentityRefused &&
			strings.Contains(c.Message, "service account '"+nsA+"/"+tenantSA+"' of JobSource '"+nsA+"/tenant' is not in the job's namespace"), fmt.Sprintf("Ready %+v", c)
	})
	pods := &corev1.PodList{}
	if err := e.Client.List(t.Context(), pods, client.InNamespace(nsC)); err != nil || len(pods.Items) > 0 {
		t.Errorf("pods in %s: %d, %v; want none", nsC, len(pods.Items), err)
	}
	checkRefusals(t, refused(), []string{nsA, nsB, nsC}, "/namespaces/"+nsB+"/sparkjobs/pi-b")
}

// tenantNamespaces makes the tenant's namespace, with the Spark driver's
// account, the tenant's account and the admission policy, and a second
// namespace where Spark jobs may run but the tenant may not write.
func tenantNamespaces(t *testing.T, e *testenv.Env) (string, string) {
	nsA, nsB := e.Namespace(t), e.Namespace(t)
	apply(t, e, componentInto(t, nsA, "components/spark-namespace", "components/source-identity"))
	apply(t, e, sparkNamespace(t, nsB))
	onlyCreatedBy(t, e, nsA, "system:serviceaccount:"+nsA+":"+tenantSA)
	return nsA, nsB
}

// tenantLoops adds the source and job loops with the identity options.
func tenantLoops(t *testing.T, id reconciler.IdentityOptions) func(manager.Manager) error {
	return func(mgr manager.Manager) error {
		jopts := reconciler.DefaultJobOptions()
		jopts.Identity = id
		if _, err := reconciler.NewJobReconciler(mgr, jopts); err != nil {
			return err
		}
		_, err := reconciler.NewSourceReconciler(mgr, reconciler.SourceOptions{CacheDir: t.TempDir(), Identity: id})
		return err
	}
}

// tenantSource creates the tenant's JobSource in nsA, allowed (by the
// admission of its jobs) to target nsA and targets.
func tenantSource(t *testing.T, e *testenv.Env, repo *gittest.Repo, sa, nsA string, targets ...string) *v1alpha1.JobSource {
	srv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	src := &v1alpha1.JobSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: nsA, Name: "tenant"},
		Spec: v1alpha1.JobSourceSpec{URL: srv.URL(""), Path: "jobs", Prune: true, ServiceAccountName: sa,
			TargetNamespaces: append([]string{nsA}, targets...),
			Interval:         metav1.Duration{Duration: time.Hour}, Timeout: &metav1.Duration{Duration: 20 * time.Second}},
	}
	if err := e.Client.Create(t.Context(), src); err != nil {
		t.Fatal(err)
	}
	// While the loops still run (cleanups run last first): the source is
	// finalized by its own loop and no SparkJob is left for a later
	// test's loops to report on in a namespace being deleted.
	t.Cleanup(func() {
		ctx := context.Background()
		if err := e.Client.Delete(ctx, src); err != nil {
			t.Errorf("delete the JobSource: %v", err)
		}
		eventually(t, "the JobSource finalized", func() (bool, string) {
			err := e.Client.Get(ctx, client.ObjectKeyFromObject(src), &v1alpha1.JobSource{})
			return apierrors.IsNotFound(err), fmt.Sprint(err)
		})
		for _, ns := range append([]string{nsA}, targets...) {
			if err := e.Client.DeleteAllOf(ctx, &v1alpha1.SparkJob{}, client.InNamespace(ns)); err != nil {
				t.Errorf("delete the SparkJobs of %s: %v", ns, err)
			}
		}
	})
	return src
}

// namedJob is piJob named name, in namespace ns when not empty.
func namedJob(name, ns string) string {
	meta := "name: " + name + "\n"
	if ns != "" {
		meta += "  namespace: " + ns + "\n"
	}
	return strings.Replace(piJob, "name: pi\n", meta, 1)
}

// waitTenantRun waits until job name carries the tenant's account and its
// run's driver pod and ConfigMap exist: the admission policy let them in,
// so the tenant's account created them.
func waitTenantRun(t *testing.T, e *testenv.Env, ns, name string) {
	t.Helper()
	job := &v1alpha1.SparkJob{}
	if err := e.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, job); err != nil {
		t.Fatal(err)
	}
	if got, want := job.Annotations[reconciler.AnnotationSourceServiceAccount], ns+"/"+tenantSA; got != want {
		t.Errorf("SparkJob %s annotation %s = %q, want %q", name, reconciler.AnnotationSourceServiceAccount, got, want)
	}
	driver := waitDriver(t, e, ns, name)
	cm := runid.ConfigMapName(driver.Labels[v1alpha1.LabelRun])
	eventually(t, "ConfigMap "+cm, func() (bool, string) {
		err := e.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: cm}, &corev1.ConfigMap{})
		return err == nil, fmt.Sprint(err)
	})
}

// waitSourceReason waits until src, at commit, is not Ready for reason.
func waitSourceReason(t *testing.T, e *testenv.Env, src *v1alpha1.JobSource, commit, reason string) *v1alpha1.JobSource {
	t.Helper()
	got := &v1alpha1.JobSource{}
	eventually(t, fmt.Sprintf("JobSource '%s' %s at %s", src.Name, reason, commit), func() (bool, string) {
		if err := e.Client.Get(t.Context(), client.ObjectKeyFromObject(src), got); err != nil {
			return false, err.Error()
		}
		c := apimeta.FindStatusCondition(got.Status.Conditions, meta.ReadyCondition)
		ok := c != nil && c.Status == metav1.ConditionFalse && c.Reason == reason &&
			strings.HasSuffix(got.Status.LastAttemptedRevision, commit)
		return ok, fmt.Sprintf("Ready %+v, revision %q, jobs %+v", c, got.Status.LastAttemptedRevision, got.Status.Jobs)
	})
	return got
}

// findingRules maps each object of status.jobs to the rule of its first
// error finding.
func findingRules(src *v1alpha1.JobSource) map[string]string {
	out := map[string]string{}
	for _, j := range src.Status.Jobs {
		for _, f := range j.Findings {
			if f.Severity == v1alpha1.SeverityError {
				out[j.Name] = f.Rule
				break
			}
		}
	}
	return out
}

// requestReconcile asks for a fetch now.
func requestReconcile(t *testing.T, e *testenv.Env, src *v1alpha1.JobSource) {
	t.Helper()
	if err := reconciler.RequestReconcile(t.Context(), e.Client, client.ObjectKeyFromObject(src), time.Now()); err != nil {
		t.Fatal(err)
	}
}

// checkRefusals fails on a refused request in namespaces other than the
// tenant's expected ones: sparkcd's own requests, and its impersonation,
// are all granted by the deployed ClusterRole. (An event sent late into
// an earlier test's namespace, which is being deleted, is refused for
// that reason.)
func checkRefusals(t *testing.T, refused []string, namespaces []string, expected ...string) {
	t.Helper()
	for _, r := range refused {
		ours := !strings.Contains(r, "/namespaces/")
		for _, ns := range namespaces {
			ours = ours || strings.Contains(r, "/namespaces/"+ns+"/")
		}
		if !ours {
			continue
		}
		ok := false
		for _, path := range expected {
			ok = ok || strings.Contains(r, path+"?")
		}
		if !ok {
			t.Errorf("the API server refused %s", r)
		}
	}
}

// sparkcdToken is a rest.Config with a token of sparkcd's service account
// from the TokenRequest API, as its pod has it: its impersonation is
// sparkcd's own, checked against its ClusterRole.
func sparkcdToken(t *testing.T, e *testenv.Env) *rest.Config {
	t.Helper()
	tr, err := e.Clientset.CoreV1().ServiceAccounts("sparkcd-system").CreateToken(t.Context(), "sparkcd",
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("a token of sparkcd's service account: %v", err)
	}
	cfg := rest.AnonymousClientConfig(e.Config)
	cfg.BearerToken = tr.Status.Token
	return cfg
}

// onlyCreatedBy makes the API server refuse, in ns, every pod, ConfigMap
// and Service created by anyone but user, and waits until it does.
func onlyCreatedBy(t *testing.T, e *testenv.Env, ns, user string) {
	t.Helper()
	name := "only-" + ns
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}},
				ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods", "configmaps", "services"}},
				}}},
			},
			Validations: []admissionregistrationv1.Validation{{Expression: fmt.Sprintf("request.userInfo.username == %q", user), Message: "only " + user + " creates here"}},
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
	probe := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "probe"}}
	eventually(t, "the admission policy in force in "+ns, func() (bool, string) {
		err := e.Client.Create(t.Context(), probe.DeepCopy(), client.DryRunAll)
		return apierrors.IsInvalid(err) || apierrors.IsForbidden(err), fmt.Sprint(err)
	})
}

// grantTenant lets the tenant's account of tenantNS write SparkJobs and
// pods in ns.
func grantTenant(t *testing.T, e *testenv.Env, ns, tenantNS string) {
	t.Helper()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tenant-" + tenantNS},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"sparkjobs"}, Verbs: []string{"create", "patch", "delete"}},
			{APIGroups: []string{""}, Resources: []string{"pods", "configmaps", "services"}, Verbs: []string{"create", "patch", "delete"}},
		}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: role.Name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: tenantNS, Name: tenantSA}}}
	for _, obj := range []client.Object{role, binding} {
		if err := e.Client.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
}
