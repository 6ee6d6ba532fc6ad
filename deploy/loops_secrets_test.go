package deploy_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

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
	var sources *reconciler.SourceReconciler
	runAsSparkcd(t, e, func(mgr manager.Manager) error {
		if _, err := reconciler.NewJobReconciler(mgr, reconciler.DefaultJobOptions()); err != nil {
			return err
		}
		var err error
		sources, err = reconciler.NewSourceReconciler(mgr, reconciler.SourceOptions{CacheDir: t.TempDir()})
		return err
	})
	src, commit := privateSource(t, e, ns, "private", tenantSA)
	waitApplied(t, e, src, commit)
	checkWebhookAsSource(t, e, sources, src)
	// sparkcd itself was granted nothing: the read was the account's.
	tenant := "system:serviceaccount:" + ns + ":" + tenantSA
	checkSecretAccess(t, e, sparkcdUser, ns, map[string]bool{"jobs-git": false})
	checkSecretAccess(t, e, tenant, ns, map[string]bool{"jobs-git": true, "other": false})

	// A name the account's Role does not list.
	other, _ := privateSource(t, e, ns, "other", tenantSA)
	waitSecretForbidden(t, e, other, []string{"service account '" + ns + "/" + tenantSA + "' may not get Secret '" + ns + "/other' of spec.secretRef",
		`resourceNames: ["other"]`, "deploy/components/source-identity", tenant})
}

// checkWebhookAsSource: serve's webhook receiver reads the source's
// webhook Secret as the source's account too. The Secret is the one the
// account may read ("jobs-git", given a "token" key here): a request
// signed with it is accepted, though sparkcd itself may read no Secret.
func checkWebhookAsSource(t *testing.T, e *testenv.Env, sources *reconciler.SourceReconciler, src *v1alpha1.JobSource) {
	t.Helper()
	ctx := t.Context()
	secret := &corev1.Secret{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: src.Namespace, Name: "jobs-git"}, secret); err != nil {
		t.Fatal(err)
	}
	secret.Data["token"] = []byte("hook-token")
	if err := e.Client.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	patch := []byte(`{"spec":{"webhookSecretRef":{"name":"jobs-git"}}}`)
	if err := e.Client.Patch(ctx, src, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
	sparkcd, err := client.New(asSparkcd(e), client.Options{Scheme: e.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	for name, opts := range map[string]reconciler.WebhookOptions{
		"as the source's account": {Reader: sparkcd, Secrets: sources},
		"as sparkcd":              {Reader: sparkcd},
	} {
		body := `{"ref":"refs/heads/main"}`
		mac := hmac.New(sha256.New, []byte("hook-token"))
		mac.Write([]byte(body))
		req := httptest.NewRequest(http.MethodPost, "/hooks/"+src.Namespace+"/"+src.Name, strings.NewReader(body))
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		rec := httptest.NewRecorder()
		reconciler.NewWebhookHandler(sparkcd, opts).ServeHTTP(rec, req)
		want := map[string]int{"as the source's account": http.StatusAccepted, "as sparkcd": http.StatusInternalServerError}[name]
		if rec.Code != want {
			t.Errorf("webhook read %s: %d, want %d", name, rec.Code, want)
		}
	}
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
