package reconciler_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// TestSourceVerify runs a JobSource with spec.verify in mode
// all-since-last-applied against a real git server and API server: an
// SSH-signed commit is applied; an unsigned push is refused with
// VerificationFailed and the last good revision kept (jobs unchanged,
// nothing pruned); an OpenPGP-signed commit on top of the unsigned one is
// refused too, naming the unsigned commit; a force push that replaces it
// with a signed commit is applied. A source whose key Secret is missing,
// or holds no key, says so.
func TestSourceVerify(t *testing.T) {
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	pgpKey, pgpPub := gittest.NewOpenPGPKey(t)
	sshFile, sshPub := gittest.NewSSHSigningKey(t)
	if err := e.Client.Create(t.Context(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "keys"},
		Data:       map[string][]byte{"team.asc": pgpPub, "alice.pub": sshPub},
	}); err != nil {
		t.Fatal(err)
	}
	repo := gittest.NewRepo(t)
	repo.WriteFile(t, "jobs/a.yaml", jobYAML(t, "a", "100"))
	repo.WriteFile(t, "jobs/b.yaml", jobYAML(t, "b"))
	good := repo.CommitSSH(t, "two jobs", sshFile)
	repo.Push(t)
	srv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	startSourceLoop(t, e, reconciler.SourceOptions{}, ns)
	verify := func(secret string) func(*v1alpha1.JobSource) {
		return func(s *v1alpha1.JobSource) {
			s.Spec.Verify = &v1alpha1.GitVerification{Mode: v1alpha1.VerifyModeAllSinceLastApplied,
				SecretRef: meta.LocalObjectReference{Name: secret}}
		}
	}
	newSource(t, e, ns, "jobs", srv.URL(""), verify("keys"))
	waitSource(t, e, ns, "jobs", "the signed commit applied", func(s *v1alpha1.JobSource) bool {
		return sourceReady(s, metav1.ConditionTrue, meta.SucceededReason, good)
	})

	// An unsigned commit that changes a and drops b.
	repo.WriteFile(t, "jobs/a.yaml", jobYAML(t, "a", "200"))
	repo.Remove(t, "jobs/b.yaml")
	unsigned := repo.CommitAndPush(t, "unsigned change")
	requestAndWait(t, e, ns, "jobs")
	refused(t, e, ns, good, unsigned, unsigned, "unsigned")

	// A signed commit on top does not launder the unsigned one.
	signed := repo.CommitOpenPGP(t, "signed on top", pgpKey)
	repo.Push(t)
	requestAndWait(t, e, ns, "jobs")
	refused(t, e, ns, good, signed, unsigned, "unsigned")

	// Rewriting the history without the unsigned commit is applied.
	repo.Git(t, "reset", "-q", "--hard", good)
	repo.WriteFile(t, "jobs/a.yaml", jobYAML(t, "a", "300"))
	fixed := repo.CommitOpenPGP(t, "signed change", pgpKey)
	repo.Push(t)
	requestAndWait(t, e, ns, "jobs")
	waitSource(t, e, ns, "jobs", "the signed rewrite applied", func(s *v1alpha1.JobSource) bool {
		return sourceReady(s, metav1.ConditionTrue, meta.SucceededReason, fixed) && s.Status.LastAppliedRevision == "main@"+short(fixed)
	})
	if got := getJob(t, e, ns, "a").Spec.Arguments; !slices.Equal(got, []string{"300"}) {
		t.Errorf("a's arguments %v after the signed rewrite, want [300]", got)
	}

	if err := e.Client.Create(t.Context(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "empty"},
		Data: map[string][]byte{"README.md": []byte("keys go here")}}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"missing": "Secret '" + ns + "/missing' of spec.verify.secretRef does not exist",
		"empty":   "Secret '" + ns + "/empty' of spec.verify.secretRef: no verification keys",
	} {
		newSource(t, e, ns, "keys-"+name, srv.URL(""), verify(name), func(s *v1alpha1.JobSource) { s.Spec.Path = "none" })
		waitSource(t, e, ns, "keys-"+name, "VerificationFailed: "+want, func(s *v1alpha1.JobSource) bool {
			c := apimeta.FindStatusCondition(s.Status.Conditions, meta.ReadyCondition)
			return c != nil && c.Reason == reconciler.ReasonVerificationFailed && strings.Contains(c.Message, want)
		})
	}
}

// refused waits until the source refuses tip, naming commit, the
// committer and signer, and checks that good stays applied: its
// revision, both jobs, a's arguments.
func refused(t *testing.T, e *testenv.Env, ns, good, tip, commit, signer string) {
	t.Helper()
	src := waitSource(t, e, ns, "jobs", "VerificationFailed at "+tip, func(s *v1alpha1.JobSource) bool {
		return sourceReady(s, metav1.ConditionFalse, reconciler.ReasonVerificationFailed, tip)
	})
	msg := apimeta.FindStatusCondition(src.Status.Conditions, meta.ReadyCondition).Message
	for _, want := range []string{"commit '" + commit + "'", "t <t@example.com>", signer, "revision main@" + short(good) + " stays applied"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the Ready message does not say %q: %s", want, msg)
		}
	}
	if !apimeta.IsStatusConditionTrue(src.Status.Conditions, meta.StalledCondition) {
		t.Errorf("not Stalled: %v", src.Status.Conditions)
	}
	if src.Status.LastAppliedRevision != "main@"+short(good) {
		t.Errorf("lastAppliedRevision %q, want %s kept", src.Status.LastAppliedRevision, good)
	}
	if diff := cmp.Diff([]string{"a", "b"}, jobNames(t, e, ns)); diff != "" {
		t.Errorf("SparkJobs after the refusal (-want +got):\n%s", diff)
	}
	a := getJob(t, e, ns, "a")
	if !slices.Equal(a.Spec.Arguments, []string{"100"}) || a.Annotations[v1alpha1.AnnotationRevision] != "main@"+short(good) {
		t.Errorf("a changed: arguments %v, revision %q", a.Spec.Arguments, a.Annotations[v1alpha1.AnnotationRevision])
	}
}
