package reconciler_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// supportJobYAML is job pi mounting ConfigMap pi-conf, reading Secret
// pi-creds into its environment, and one key of Secret absent, which is
// nowhere.
func supportJobYAML(t *testing.T) string {
	job := piJob(t, "", "pi", func(j *v1alpha1.SparkJob) {
		j.Spec.Volumes = append(j.Spec.Volumes, corev1.Volume{Name: "conf", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "pi-conf"}}}})
		j.Spec.Driver.VolumeMounts = append(j.Spec.Driver.VolumeMounts, corev1.VolumeMount{Name: "conf", MountPath: "/etc/pi"})
		j.Spec.Driver.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "pi-creds"}}}}
		j.Spec.Driver.Env = append(j.Spec.Driver.Env, corev1.EnvVar{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Key: "token"}}})
	})
	job.Namespace = ""
	job.APIVersion, job.Kind = v1alpha1.GroupVersion.String(), v1alpha1.SparkJobKind
	b, err := yaml.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// supportYAML is the objects beside the job: three to apply, and one of
// each kind of refusal.
func supportYAML(confValue string, withCreds bool) string {
	docs := []string{
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pi-conf\ndata:\n  value: " + confValue + "\n",
		"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: etl\n",
		"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: spark\n",                            // made by hand
		"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec: {}\n",                   // not allowed
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: far\n  namespace: elsewhere\n",           // outside targets
		"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: spark-all\n", // cluster-scoped
		"apiVersion: v1\nkind: Secret\nmetadata:\n  name: bad\ndata:\n  k: hunter2-not-base64!\n",     // not base64
	}
	if withCreds {
		docs = append(docs, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: pi-creds\nstringData:\n  password: hunter2-s3cret\n")
	}
	return strings.Join(docs, "---\n")
}

// rulesOf lists "name rule" of every finding of the source's status.
func rulesOf(src *v1alpha1.JobSource) []string {
	var out []string
	for _, j := range src.Status.Jobs {
		for _, f := range j.Findings {
			out = append(out, j.Name+" "+f.Rule)
		}
	}
	slices.Sort(out)
	return out
}

// TestSourceSupportingObjects: the ConfigMaps, Secrets and ServiceAccounts
// beside a job are applied with it, labelled as its source's, updated and
// pruned with it; a kind not allowed, an object outside the target
// namespaces, a cluster-scoped object and an object made by hand are never
// applied and each is a finding; a Secret the job reads that exists
// nowhere is a missing-reference warning until it is created.
func TestSourceSupportingObjects(t *testing.T) {
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	repo := gittest.NewRepo(t)
	repo.WriteFile(t, "jobs/pi.yaml", supportJobYAML(t))
	repo.WriteFile(t, "jobs/support.yaml", supportYAML("one", true))
	commit := repo.CommitAndPush(t, "pi and its objects")
	srv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	startSourceLoop(t, e, reconciler.SourceOptions{}, ns)
	newSource(t, e, ns, "jobs", srv.URL(""))

	src := waitSource(t, e, ns, "jobs", "applied with findings", func(s *v1alpha1.JobSource) bool {
		return sourceReady(s, metav1.ConditionTrue, reconciler.ReasonJobsRejected, commit)
	})
	want := []string{
		"bad invalid-object", "far target-namespace", "pi missing-reference", "spark owned-by-another-source",
		"spark-all cluster-scoped", "web kind-not-allowed",
	}
	if diff := cmp.Diff(want, rulesOf(src)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	wantInv := []v1alpha1.SupportingRef{
		{Kind: "ConfigMap", Namespace: ns, Name: "pi-conf"},
		{Kind: "Secret", Namespace: ns, Name: "pi-creds"},
		{Kind: "ServiceAccount", Namespace: ns, Name: "etl"},
	}
	if diff := cmp.Diff(wantInv, src.Status.SupportingInventory); diff != "" {
		t.Errorf("supporting inventory (-want +got):\n%s", diff)
	}
	cm := getObject(t, e, &corev1.ConfigMap{}, ns, "pi-conf")
	if cm.Data["value"] != "one" || cm.Labels[v1alpha1.LabelSource] != ns+".jobs" || cm.Annotations[reconciler.AnnotationSource] != ns+"/jobs" {
		t.Errorf("ConfigMap pi-conf: data %v labels %v annotations %v", cm.Data, cm.Labels, cm.Annotations)
	}
	if sa := getObject(t, e, &corev1.ServiceAccount{}, ns, "spark"); sa.Labels[v1alpha1.LabelSource] != "" {
		t.Errorf("the hand-made ServiceAccount spark was taken over: %v", sa.Labels)
	}
	b, _ := yaml.Marshal(src.Status)
	if strings.Contains(string(b), "hunter2") {
		t.Errorf("the JobSource's status shows a Secret's value:\n%s", b)
	}

	// The missing Secret appears: the warning goes on the next reconcile.
	if err := e.Client.Create(t.Context(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "absent"}}); err != nil {
		t.Fatal(err)
	}
	src = requestAndWait(t, e, ns, "jobs")
	if slices.Contains(rulesOf(src), "pi missing-reference") {
		t.Errorf("missing-reference stays once the Secret exists: %v", rulesOf(src))
	}

	// An update reaches the cluster; a removed Secret is pruned.
	repo.WriteFile(t, "jobs/support.yaml", supportYAML("two", false))
	commit = repo.CommitAndPush(t, "pi-conf two, no pi-creds")
	requestAndWait(t, e, ns, "jobs")
	eventually(t, "pi-conf updated and pi-creds pruned", func() (bool, string) {
		cm := getObject(t, e, &corev1.ConfigMap{}, ns, "pi-conf")
		err := e.Client.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: "pi-creds"}, &corev1.Secret{})
		return cm.Data["value"] == "two" && apierrors.IsNotFound(err), fmt.Sprintf("pi-conf %v, pi-creds: %v", cm.Data, err)
	})
	src = getSource(t, e, ns, "jobs")
	if len(src.Status.SupportingInventory) != 2 || !strings.HasSuffix(src.Status.LastAppliedRevision, commit) {
		t.Errorf("inventory %v at %s", src.Status.SupportingInventory, src.Status.LastAppliedRevision)
	}
	// pi-creds is now a missing reference of the job again.
	if !slices.Contains(rulesOf(src), "pi missing-reference") {
		t.Errorf("no missing-reference for the pruned pi-creds: %v", rulesOf(src))
	}
	assertNeverApplied(t, e, ns)
}

// getObject reads an object into obj.
func getObject[T client.Object](t *testing.T, e *testenv.Env, obj T, ns, name string) T {
	t.Helper()
	if err := e.Client.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: name}, obj); err != nil {
		t.Fatalf("get %T '%s/%s': %v", obj, ns, name, err)
	}
	return obj
}

// assertNeverApplied: the refused objects do not exist.
func assertNeverApplied(t *testing.T, e *testenv.Env, ns string) {
	t.Helper()
	for _, c := range []struct {
		obj      client.Object
		ns, name string
	}{
		{&appsv1.Deployment{}, ns, "web"},
		{&corev1.ConfigMap{}, "elsewhere", "far"},
		{&rbacv1.ClusterRole{}, "", "spark-all"},
	} {
		err := e.Client.Get(t.Context(), types.NamespacedName{Namespace: c.ns, Name: c.name}, c.obj)
		if !apierrors.IsNotFound(err) {
			t.Errorf("%T '%s/%s' was applied (get: %v)", c.obj, c.ns, c.name, err)
		}
	}
}

// configMapsYAML is one ConfigMap per name.
func configMapsYAML(names ...string) string {
	docs := make([]string, len(names))
	for i, n := range names {
		docs[i] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + n + "\ndata:\n  from: git\n"
	}
	return strings.Join(docs, "---\n")
}

// TestSourceSupportingOwnership: a ConfigMap another source applied is
// not taken over but reported; the deletion of that source (spec.prune)
// deletes it, and the second source then applies it. A revision that
// would prune more than maxPrunePercent of the supporting objects prunes
// none.
func TestSourceSupportingOwnership(t *testing.T) {
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	repos := map[string]*gittest.Repo{}
	commits := map[string]string{}
	startSourceLoop(t, e, reconciler.SourceOptions{}, ns)
	for _, name := range []string{"one", "two"} {
		repo := gittest.NewRepo(t)
		repo.WriteFile(t, "jobs/job.yaml", jobYAML(t, "job-"+name))
		cms := []string{"shared"}
		if name == "two" {
			cms = append(cms, "x1", "x2", "x3")
		}
		repo.WriteFile(t, "jobs/support.yaml", configMapsYAML(cms...))
		commits[name] = repo.CommitAndPush(t, "job and ConfigMaps")
		repos[name] = repo
		srv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
		newSource(t, e, ns, name, srv.URL(""))
		if name == "one" {
			waitSource(t, e, ns, "one", "one Ready", func(s *v1alpha1.JobSource) bool {
				return sourceReady(s, metav1.ConditionTrue, meta.SucceededReason, commits["one"])
			})
		}
	}
	two := waitSource(t, e, ns, "two", "two reports the conflict", func(s *v1alpha1.JobSource) bool {
		return sourceReady(s, metav1.ConditionTrue, reconciler.ReasonJobsRejected, commits["two"])
	})
	if diff := cmp.Diff([]string{"shared owned-by-another-source"}, rulesOf(two)); diff != "" {
		t.Errorf("findings of two (-want +got):\n%s", diff)
	}
	if msg := two.Status.Jobs[0].Findings[0].Message; !strings.Contains(msg, "JobSource '"+ns+"/one'") {
		t.Errorf("the conflict does not name the owner: %s", msg)
	}
	if cm := getObject(t, e, &corev1.ConfigMap{}, ns, "shared"); cm.Labels[v1alpha1.LabelSource] != ns+".one" {
		t.Errorf("shared was taken over: %v", cm.Labels)
	}

	// Deleting source one deletes its ConfigMap; two then applies it.
	if err := e.Client.Delete(t.Context(), getSource(t, e, ns, "one")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "shared deleted with source one", func() (bool, string) {
		cm := &corev1.ConfigMap{}
		err := e.Client.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: "shared"}, cm)
		return apierrors.IsNotFound(err) || cm.Labels[v1alpha1.LabelSource] == ns+".two", fmt.Sprintf("get: %v, labels %v", err, cm.Labels)
	})
	two = requestAndWait(t, e, ns, "two")
	if cm := getObject(t, e, &corev1.ConfigMap{}, ns, "shared"); cm.Labels[v1alpha1.LabelSource] != ns+".two" || len(two.Status.SupportingInventory) != 4 {
		t.Errorf("shared labels %v, inventory of two %v", cm.Labels, two.Status.SupportingInventory)
	}

	// Pruning 3 of 4 (75%) is more than the default 50%: none goes.
	repos["two"].WriteFile(t, "jobs/support.yaml", configMapsYAML("shared"))
	commits["two"] = repos["two"].CommitAndPush(t, "drop x1..x3")
	two = requestAndWait(t, e, ns, "two")
	two = waitSource(t, e, ns, "two", "prune blocked", func(s *v1alpha1.JobSource) bool {
		return sourceReady(s, metav1.ConditionFalse, reconciler.ReasonPruneBlocked, commits["two"])
	})
	if len(two.Status.SupportingInventory) != 4 {
		t.Errorf("inventory after a blocked prune: %v", two.Status.SupportingInventory)
	}
	for _, n := range []string{"x1", "x2", "x3"} {
		getObject(t, e, &corev1.ConfigMap{}, ns, n)
	}
	assertReleasedOnDelete(t, e, ns)
}

// assertReleasedOnDelete: without spec.prune, the ConfigMaps that left
// git are released at once, and deleting source two releases the rest.
func assertReleasedOnDelete(t *testing.T, e *testenv.Env, ns string) {
	t.Helper()
	two := getSource(t, e, ns, "two")
	if err := e.Client.Patch(t.Context(), two, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"prune":false}}`))); err != nil {
		t.Fatal(err)
	}
	two = requestAndWait(t, e, ns, "two")
	if diff := cmp.Diff([]string{"shared"}, supportingNames(two)); diff != "" {
		t.Errorf("inventory without prune (-want +got):\n%s", diff)
	}
	for _, n := range []string{"x1", "x2", "x3"} {
		if cm := getObject(t, e, &corev1.ConfigMap{}, ns, n); cm.Labels[v1alpha1.LabelSource] != "" {
			t.Errorf("%s left git under prune: false but is still labelled %v", n, cm.Labels)
		}
	}
	if err := e.Client.Delete(t.Context(), two); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the ConfigMaps of two released", func() (bool, string) {
		var labels []string
		for _, n := range []string{"shared", "x1", "x2", "x3"} {
			cm := getObject(t, e, &corev1.ConfigMap{}, ns, n)
			if l := cm.Labels[v1alpha1.LabelSource] + cm.Annotations[reconciler.AnnotationSource]; l != "" {
				labels = append(labels, n+": "+l)
			}
		}
		return len(labels) == 0, fmt.Sprintf("still labelled: %v", labels)
	})
}

func supportingNames(src *v1alpha1.JobSource) []string {
	var names []string
	for _, ref := range src.Status.SupportingInventory {
		names = append(names, ref.Name)
	}
	return names
}
