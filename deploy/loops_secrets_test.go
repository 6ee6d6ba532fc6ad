package deploy_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// TestSourceSecretsByName: sparkcd reads only the Secrets granted to it by
// name in a JobSource's namespace (components/source-secrets), or, for a
// source with a service account, only those granted to that account
// (components/source-identity). A Secret nobody granted makes its source
// Ready=False with reason SecretForbidden, naming the Secret and the rule
// to add, while the namespace's other sources are applied.
func TestSourceSecretsByName(t *testing.T) {
	e := installed(t)
	t.Run("as sparkcd", func(t *testing.T) { secretsAsSparkcd(t, e) })
	t.Run("as the source's service account", func(t *testing.T) { secretsAsSource(t, e) })
}

func secretsAsSparkcd(t *testing.T, e *testenv.Env) {
	ns := e.Namespace(t)
	apply(t, e, sparkNamespace(t, ns))
	runAsSparkcd(t, e, tenantLoops(t, reconciler.IdentityOptions{}))
	private, commit := privateSource(t, e, ns, "private", "")
	public := publicSource(t, e, ns)

	want := []string{"sparkcd may not get Secret '" + ns + "/jobs-git' of spec.secretRef",
		`resourceNames: ["jobs-git"], verbs: ["get"]`, "namespace '" + ns + "'", "deploy/components/source-secrets",
		sparkcdUser}
	waitSecretForbidden(t, e, private, want)
	waitApplied(t, e, public.src, public.commit)

	// The component, listing the name, lets sparkcd read it, and only it.
	apply(t, e, componentInto(t, ns, "components/spark-namespace", "components/source-secrets"))
	if err := reconciler.RequestReconcile(t.Context(), e.Client, client.ObjectKeyFromObject(private), time.Now()); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, e, private, commit)
	checkSecretAccess(t, e, sparkcdUser, ns, map[string]bool{"jobs-git": true, "other": false})
}

func secretsAsSource(t *testing.T, e *testenv.Env) {
	ns := e.Namespace(t)
	apply(t, e, componentInto(t, ns, "components/spark-namespace", "components/source-identity"))
	runAsSparkcd(t, e, tenantLoops(t, reconciler.IdentityOptions{}))
	src, commit := privateSource(t, e, ns, "private", tenantSA)
	waitApplied(t, e, src, commit)
	// sparkcd itself was granted nothing: the read was the account's.
	tenant := "system:serviceaccount:" + ns + ":" + tenantSA
	checkSecretAccess(t, e, sparkcdUser, ns, map[string]bool{"jobs-git": false})
	checkSecretAccess(t, e, tenant, ns, map[string]bool{"jobs-git": true, "other": false})

	// A name the account's Role does not list.
	other, _ := privateSource(t, e, ns, "other", tenantSA)
	waitSecretForbidden(t, e, other, []string{"service account '" + ns + "/" + tenantSA + "' may not get Secret '" + ns + "/other' of spec.secretRef",
		`resourceNames: ["other"]`, "deploy/components/source-identity", tenant})
}

// privateSource serves a one-job repository over HTTPS with a bearer
// token held in Secret name, and creates a JobSource named name reading
// it (as account sa when set). Its job is named after the source.
func privateSource(t *testing.T, e *testenv.Env, ns, name, sa string) (*v1alpha1.JobSource, string) {
	repo := gittest.NewRepo(t)
	repo.WriteFile(t, "jobs/pi.yaml", strings.Replace(piJob, "name: pi\n", "name: pi-"+name+"\n", 1))
	commit := repo.CommitAndPush(t, "one job")
	token := "tok-" + name
	srv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, gittest.BearerAuth(token)), true)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Data:       map[string][]byte{"bearerToken": []byte(token), "ca.crt": srv.CAPEM()},
	}
	if name == "private" {
		secret.Name = "jobs-git"
	}
	if err := e.Client.Create(t.Context(), secret); err != nil {
		t.Fatal(err)
	}
	return createSource(t, e, &v1alpha1.JobSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.JobSourceSpec{URL: srv.URL(""), Path: "jobs", ServiceAccountName: sa,
			SecretRef: &meta.LocalObjectReference{Name: secret.Name}},
	}), commit
}

type sourceAt struct {
	src    *v1alpha1.JobSource
	commit string
}

// publicSource is a JobSource of a repository that needs no Secret.
func publicSource(t *testing.T, e *testenv.Env, ns string) sourceAt {
	repo := gittest.NewRepo(t)
	repo.WriteFile(t, "jobs/pi.yaml", strings.Replace(piJob, "name: pi\n", "name: pi-public\n", 1))
	commit := repo.CommitAndPush(t, "one job")
	srv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	return sourceAt{createSource(t, e, &v1alpha1.JobSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "public"},
		Spec:       v1alpha1.JobSourceSpec{URL: srv.URL(""), Path: "jobs"},
	}), commit}
}

// createSource creates src with an hour's interval, and deletes it (and
// waits until its loop let it go) when the test ends.
func createSource(t *testing.T, e *testenv.Env, src *v1alpha1.JobSource) *v1alpha1.JobSource {
	src.Spec.Interval = metav1.Duration{Duration: time.Hour}
	src.Spec.Timeout = &metav1.Duration{Duration: 20 * time.Second}
	if err := e.Client.Create(t.Context(), src); err != nil {
		t.Fatal(err)
	}
	// While the loops still run (cleanups run last first): the source is
	// finalized by its own loop, and no later test's loops find it.
	t.Cleanup(func() {
		ctx := context.Background()
		_ = e.Client.Delete(ctx, src)
		eventually(t, "JobSource '"+src.Name+"' finalized", func() (bool, string) {
			err := e.Client.Get(ctx, client.ObjectKeyFromObject(src), &v1alpha1.JobSource{})
			return apierrors.IsNotFound(err), fmt.Sprint(err)
		})
	})
	return src
}

// waitSecretForbidden waits until src is Ready=False with reason
// SecretForbidden and a message holding each of want, and a Warning event
// says the same.
func waitSecretForbidden(t *testing.T, e *testenv.Env, src *v1alpha1.JobSource, want []string) {
	t.Helper()
	holds := func(msg string) bool {
		for _, w := range want {
			if !strings.Contains(msg, w) {
				return false
			}
		}
		return true
	}
	eventually(t, "JobSource '"+src.Name+"' SecretForbidden", func() (bool, string) {
		got := &v1alpha1.JobSource{}
		if err := e.Client.Get(t.Context(), client.ObjectKeyFromObject(src), got); err != nil {
			return false, err.Error()
		}
		c := apimeta.FindStatusCondition(got.Status.Conditions, meta.ReadyCondition)
		ok := c != nil && c.Status == metav1.ConditionFalse && c.Reason == reconciler.ReasonSecretForbidden && holds(c.Message)
		return ok, fmt.Sprintf("Ready %+v, want a message with %q", c, want)
	})
	eventually(t, "a SecretForbidden event on '"+src.Name+"'", func() (bool, string) {
		evs := &eventsv1.EventList{}
		if err := e.Client.List(t.Context(), evs, client.InNamespace(src.Namespace)); err != nil {
			return false, err.Error()
		}
		for _, ev := range evs.Items {
			if ev.Regarding.Name == src.Name && ev.Reason == reconciler.ReasonSecretForbidden && ev.Type == corev1.EventTypeWarning && holds(ev.Note) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d events, none SecretForbidden on the source", len(evs.Items))
	})
}
