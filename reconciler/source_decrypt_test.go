package reconciler_test

import (
	"bytes"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/decryption"
	"github.com/sparkcd/sparkcd/decryption/sopstest"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/review"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// lockedBuffer is a log sink the loops may write to at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

const (
	decryptPlain = "pl41ntext-db-password"
	decryptToken = "pl41ntext-token" // base64 in data: cGw0MW50ZXh0LXRva2Vu
)

// TestSourceDecryption: a SOPS-encrypted Secret in git is applied
// decrypted with the age identity of spec.decryption.secretRef; the
// plaintext and the identity appear nowhere in the source's status,
// events or logs. With a key that does not open it, the Secret and the
// job that reads it are held back with a finding naming the file, the
// Secret applied before stays, and another job goes on.
func TestSourceDecryption(t *testing.T) {
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	id, wrong := sopstest.NewIdentity(t), sopstest.NewIdentity(t)
	secret := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: pi-creds\ntype: Opaque\nstringData:\n  password: " + decryptPlain +
		"\ndata:\n  token: cGw0MW50ZXh0LXRva2Vu\n"
	repo := gittest.NewRepo(t)
	repo.WriteFile(t, "jobs/pi.yaml", supportJobYAML(t))
	repo.WriteFile(t, "jobs/other.yaml", jobYAML(t, "other"))
	repo.WriteFile(t, "jobs/creds.yaml", string(sopstest.Encrypt(t, []byte(secret), sopstest.Options{}, id)))
	repo.WriteFile(t, "jobs/conf.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pi-conf\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: absent\n")
	commit := repo.CommitAndPush(t, "pi reads an encrypted Secret")
	srv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	keySecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sops-age"},
		Data: map[string][]byte{"identity.agekey": []byte(id.Secret + "\n")}}
	if err := e.Client.Create(t.Context(), keySecret); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	startSourceLoop(t, e, reconciler.SourceOptions{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}, ns)
	newSource(t, e, ns, "jobs", srv.URL(""), func(s *v1alpha1.JobSource) {
		s.Spec.Decryption = &v1alpha1.Decryption{Provider: "sops", SecretRef: &meta.LocalObjectReference{Name: "sops-age"}}
	})

	src := waitSource(t, e, ns, "jobs", "applied", func(s *v1alpha1.JobSource) bool {
		return sourceReady(s, metav1.ConditionTrue, meta.SucceededReason, commit)
	})
	creds := getObject(t, e, &corev1.Secret{}, ns, "pi-creds")
	want := map[string][]byte{"password": []byte(decryptPlain), "token": []byte(decryptToken)}
	if diff := cmp.Diff(want, creds.Data); diff != "" {
		t.Errorf("Secret pi-creds (-want +got):\n%s", diff)
	}
	if _, ok := creds.Annotations["sops"]; ok || creds.Labels[v1alpha1.LabelSource] != ns+".jobs" {
		t.Errorf("Secret pi-creds: labels %v annotations %v", creds.Labels, creds.Annotations)
	}
	getJob(t, e, ns, "pi")
	noLeak(t, e, ns, src, logs, id)
	renderHidesSecrets(t, repo.Work, id)

	// A key that does not open the file: the Secret and pi are held back,
	// other goes on, the Secret applied before stays.
	keySecret.Data = map[string][]byte{"identity.agekey": []byte(wrong.Secret)}
	if err := e.Client.Update(t.Context(), keySecret); err != nil {
		t.Fatal(err)
	}
	repo.WriteFile(t, "jobs/other.yaml", jobYAML(t, "other", "2"))
	repo.WriteFile(t, "jobs/pi.yaml", strings.Replace(supportJobYAML(t), "  name: pi\n", "  name: pi\n  labels:\n    rev: two\n", 1))
	commit = repo.CommitAndPush(t, "other and pi change")
	src = requestAndWait(t, e, ns, "jobs")
	src = waitSource(t, e, ns, "jobs", "held back", func(s *v1alpha1.JobSource) bool {
		return sourceReady(s, metav1.ConditionTrue, reconciler.ReasonJobsRejected, commit)
	})
	if c := apimeta.FindStatusCondition(src.Status.Conditions, meta.ReadyCondition); c == nil || !strings.Contains(c.Message, "jobs/creds.yaml") {
		t.Errorf("the Ready condition does not name the file: %+v", c)
	}
	if diff := cmp.Diff([]string{"pi decryption-failed", "pi-creds decryption-failed"}, rulesOf(src)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	for _, j := range src.Status.Jobs {
		for _, f := range j.Findings {
			if !strings.Contains(f.Message, "'jobs/creds.yaml'") || !strings.Contains(f.Message, wrong.Recipient) && !strings.Contains(f.Message, id.Recipient) {
				t.Errorf("finding of %s does not name the file and the recipient: %s", j.Name, f.Message)
			}
		}
	}
	if got := getJob(t, e, ns, "other").Spec.Arguments; !slices.Equal(got, []string{"2"}) {
		t.Errorf("job other was held back too: arguments %v", got)
	}
	if got := getJob(t, e, ns, "pi").Labels; got["rev"] != "" {
		t.Errorf("job pi was applied although its Secret could not be decrypted: labels %v", got)
	}
	if diff := cmp.Diff(want, getObject(t, e, &corev1.Secret{}, ns, "pi-creds").Data); diff != "" {
		t.Errorf("Secret pi-creds applied before changed (-want +got):\n%s", diff)
	}
	noLeak(t, e, ns, src, logs, id, wrong)
}

// noLeak fails when the plaintext or an identity is in the source's
// status, the namespace's events or the logs.
func noLeak(t *testing.T, e *testenv.Env, ns string, src *v1alpha1.JobSource, logs *lockedBuffer, ids ...sopstest.Identity) {
	t.Helper()
	status, _ := yaml.Marshal(src.Status)
	events := &corev1.EventList{}
	if err := e.Client.List(t.Context(), events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var ev strings.Builder
	for _, x := range events.Items {
		ev.WriteString(x.Reason + " " + x.Message + "\n")
	}
	if ev.Len() == 0 || logs.String() == "" {
		t.Fatalf("no events (%d bytes) or no logs (%d bytes) to look into", ev.Len(), len(logs.String()))
	}
	secrets := []string{decryptPlain, decryptToken, "cGw0MW50ZXh0LXRva2Vu"}
	for _, id := range ids {
		secrets = append(secrets, id.Secret, id.Secret[len("AGE-SECRET-KEY-1"):])
	}
	for where, text := range map[string]string{"status": string(status), "events": ev.String(), "logs": logs.String()} {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("the %s show a secret (%.20s…):\n%s", where, s, text)
			}
		}
	}
}

// renderHidesSecrets: what `sparkcd render` prints of the path, with the
// key that opens the Secret, shows <sops-encrypted> and no plaintext.
func renderHidesSecrets(t *testing.T, root string, id sopstest.Identity) {
	t.Helper()
	keys, err := decryption.KeysFromData(map[string][]byte{"id.agekey": []byte(id.Secret)})
	if err != nil {
		t.Fatal(err)
	}
	opts := review.DefaultOptions()
	opts.DecryptionKeys = keys
	report, err := review.Check(t.Context(), root, "jobs", opts)
	if err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(report.SupportingObjects())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), decryption.Placeholder) {
		t.Errorf("render does not show %s:\n%s", decryption.Placeholder, out)
	}
	for _, s := range []string{decryptPlain, decryptToken, "cGw0MW50ZXh0LXRva2Vu", "ENC["} {
		if strings.Contains(string(out), s) {
			t.Errorf("render shows %q:\n%s", s, out)
		}
	}
}
