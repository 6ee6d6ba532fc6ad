package reconciler_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/runid"
)

// reviewedImage is the image of testdata/pi.yaml, the one in git.
const reviewedImage = "apache/spark:3.5.3"

// driftCase is one way to change a SparkJob that a JobSource manages.
type driftCase struct {
	name    string
	manager string
	// fields are what the Drifted message must name.
	fields []string
	change func(t *testing.T, e *testenv.Env, ns string)
}

// TestWhatRunsIsWhatWasReviewed: a SparkJob that a JobSource manages runs
// only the spec applied from git. A merge patch (kubectl patch, its own
// field manager), another manager's server-side apply, a new label (labels
// go onto the pods) and an edit of the status start no run; the changes of
// spec and labels make the job Ready=False, Drifted, naming the fields and
// their field managers; the source restores git's version — at once, not at
// its next poll (the interval is an hour) — and it starts no run either.
func TestWhatRunsIsWhatWasReviewed(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	repo := gittest.NewRepo(t)
	repo.WriteFile(t, "jobs/d.yaml", jobYAML(t, "d"))
	commit := repo.CommitAndPush(t, "job d")
	srv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	startSourceLoop(t, e, reconciler.SourceOptions{}, ns)
	newSource(t, e, ns, "jobs", srv.URL(""))
	waitSource(t, e, ns, "jobs", "Ready", func(s *v1alpha1.JobSource) bool {
		return sourceReady(s, metav1.ConditionTrue, meta.SucceededReason, commit)
	})

	first := lastRunIn(t, e, ns, "d", v1alpha1.RunPending)
	if first.Trigger != v1alpha1.TriggerCommit || first.Revision != "main@"+short(commit) {
		t.Errorf("first run: trigger %s, revision %s; want commit, main@%s", first.Trigger, first.Revision, short(commit))
	}
	setPodStatus(t, e, ns, runid.DriverPodName(first.Name), succeeded)
	lastRunIn(t, e, ns, "d", v1alpha1.RunSucceeded)
	reviewed := getJob(t, e, ns, "d")

	for _, c := range specDrifts() {
		t.Run(c.name, func(t *testing.T) {
			// With the source suspended the drift stays for the test to see.
			setSuspend(t, e, ns, "jobs", true)
			c.change(t, e, ns)
			drifted := waitJob(t, e, ns, "d", "Ready=False, Drifted", func(j *v1alpha1.SparkJob) bool {
				r := apimeta.FindStatusCondition(j.Status.Conditions, meta.ReadyCondition)
				return r != nil && r.Status == "False" && r.Reason == reconciler.ReasonDrifted
			})
			msg := apimeta.FindStatusCondition(drifted.Status.Conditions, meta.ReadyCondition).Message
			for _, want := range append([]string{"'" + c.manager + "'", "revision main@" + short(commit)}, c.fields...) {
				if !strings.Contains(msg, want) {
					t.Errorf("Drifted message %q does not name %s", msg, want)
				}
			}
			waitEventNote(t, e, ns, "d", reconciler.EventDrifted, "'"+c.manager+"'")
			assertDriversStay(t, e, ns, "d", 1)
			setSuspend(t, e, ns, "jobs", false)
			waitRestored(t, e, ns, reviewed)
			assertDriversStay(t, e, ns, "d", 1)
		})
	}

	t.Run("restored at once", func(t *testing.T) {
		// The source is not suspended and polls hourly: the watch on its
		// SparkJobs restores the job.
		mergePatch(t, e, ns, "d", "kubectl-patch", `{"spec":{"image":"evil/spark:3"}}`, false)
		waitRestored(t, e, ns, reviewed)
		assertDriversStay(t, e, ns, "d", 1)
	})

	t.Run("status edit", func(t *testing.T) {
		mergePatch(t, e, ns, "d", "kubectl-edit", `{"status":{"specHash":"0000","lastAppliedRevision":"main@sha1:0000"}}`, true)
		// An annotation wakes the job loop, as any later event would.
		mergePatch(t, e, ns, "d", "kubectl-annotate", `{"metadata":{"annotations":{"example.com/poke":"1"}}}`, false)
		waitJob(t, e, ns, "d", "the status repaired", func(j *v1alpha1.SparkJob) bool {
			return j.Status.SpecHash == first.SpecHash && j.Status.LastAppliedRevision == first.Revision
		})
		waitEventNote(t, e, ns, "d", reconciler.EventDrifted, "'kubectl-edit'")
		assertDriversStay(t, e, ns, "d", 1)
		if last := getJob(t, e, ns, "d").Status.LastRun; last == nil || last.Name != first.Name {
			t.Errorf("last run %+v, want %s", last, first.Name)
		}
	})
}

// specDrifts are the changes of a managed job's spec by other writers.
func specDrifts() []driftCase {
	return []driftCase{
		{name: "kubectl label", manager: "kubectl-label", fields: []string{"metadata.labels[team]"},
			change: func(t *testing.T, e *testenv.Env, ns string) {
				// A label of the job goes onto its pods.
				mergePatch(t, e, ns, "d", "kubectl-label", `{"metadata":{"labels":{"team":"other"}}}`, false)
			}},
		{name: "kubectl patch", manager: "kubectl-patch", fields: []string{"spec.image", "spec.driver.nodeSelector"},
			change: func(t *testing.T, e *testenv.Env, ns string) {
				patch := `{"spec":{"image":"evil/spark:1","driver":{"nodeSelector":{"pool":"gpu"}}}}`
				mergePatch(t, e, ns, "d", "kubectl-patch", patch, false)
			}},
		{name: "another manager's apply", manager: "other-tool", fields: []string{"spec.image"},
			change: func(t *testing.T, e *testenv.Env, ns string) {
				u := &unstructured.Unstructured{Object: map[string]any{
					"apiVersion": v1alpha1.GroupVersion.String(), "kind": v1alpha1.SparkJobKind,
					"metadata": map[string]any{"namespace": ns, "name": "d"},
					"spec":     map[string]any{"image": "evil/spark:2"},
				}}
				if err := e.Client.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("other-tool"), client.ForceOwnership); err != nil {
					t.Fatal(err)
				}
			}},
	}
}

// TestHandMadeJobRunsPatchedSpec: a SparkJob made by hand has no source to
// review it: a patched spec runs, as it always did, and its run records no
// revision.
func TestHandMadeJobRunsPatchedSpec(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	startLoop(t, e, reconciler.JobOptions{}, ns)
	if err := e.Client.Create(t.Context(), piJob(t, ns, "hand")); err != nil {
		t.Fatal(err)
	}
	first := lastRunIn(t, e, ns, "hand", v1alpha1.RunPending)
	setPodStatus(t, e, ns, runid.DriverPodName(first.Name), succeeded)
	lastRunIn(t, e, ns, "hand", v1alpha1.RunSucceeded)
	mergePatch(t, e, ns, "hand", "kubectl-patch", `{"spec":{"image":"my/spark:1"}}`, false)
	job := waitJob(t, e, ns, "hand", "a run of the patched spec", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun != nil && j.Status.LastRun.Name != first.Name
	})
	if run := job.Status.LastRun; run.Trigger != v1alpha1.TriggerCommit || run.Revision != "" {
		t.Errorf("run: trigger %s, revision %q; want commit, none", run.Trigger, run.Revision)
	}
	pod := &corev1.Pod{}
	if err := e.Client.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: runid.DriverPodName(job.Status.LastRun.Name)}, pod); err != nil {
		t.Fatal(err)
	}
	if got := pod.Spec.Containers[0].Image; got != "my/spark:1" {
		t.Errorf("driver image %s, want the patched my/spark:1", got)
	}
}

// TestAppliedSpecDigestMatchesTheAPIServer: the digest of a job as sent
// equals the digest of the job as the API server stores it, with the
// defaults of the CRD's schema filled in, for every field the CRD
// defaults.
func TestAppliedSpecDigestMatchesTheAPIServer(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	job := piJob(t, ns, "defaults", withEveryCRDDefault)
	sent, err := runid.AppliedSpecDigest(job)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Client.Create(t.Context(), job.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	stored := getJob(t, e, ns, "defaults")
	if p := stored.Spec.Driver.Sidecars[0].Ports[0].Protocol; p != corev1.ProtocolTCP {
		t.Fatalf("the API server did not default the port's protocol (%q): the test no longer covers CRD defaults", p)
	}
	got, err := runid.AppliedSpecDigest(stored)
	if err != nil {
		t.Fatal(err)
	}
	if got != sent {
		t.Errorf("digest of the stored job %s, of the job sent %s", got, sent)
	}
}

// withEveryCRDDefault gives the job one of each field that the SparkJob
// CRD defaults (runid/zz_generated.crd_defaults.json), all unset.
func withEveryCRDDefault(j *v1alpha1.SparkJob) {
	env := []corev1.EnvVar{
		{Name: "CM", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Key: "k"}}},
		{Name: "SEC", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "k"}}},
		{Name: "FILE", ValueFrom: &corev1.EnvVarSource{FileKeyRef: &corev1.FileKeySelector{Key: "k", Path: "p", VolumeName: "v"}}},
	}
	envFrom := []corev1.EnvFromSource{
		{ConfigMapRef: &corev1.ConfigMapEnvSource{}}, {SecretRef: &corev1.SecretEnvSource{}},
	}
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000}}}
	side := corev1.Container{Name: "side", Image: "busybox", Env: env, EnvFrom: envFrom,
		Ports: []corev1.ContainerPort{{ContainerPort: 80}}, LivenessProbe: probe, ReadinessProbe: probe, StartupProbe: probe}
	for _, p := range []*v1alpha1.SparkPodSpec{&j.Spec.Driver.SparkPodSpec, &j.Spec.Executor.SparkPodSpec} {
		p.Env, p.EnvFrom = env, envFrom
		p.Sidecars = []corev1.Container{side}
		init := side
		init.Name = "init"
		p.InitContainers = []corev1.Container{init}
	}
	ref := &corev1.LocalObjectReference{}
	j.Spec.Volumes = []corev1.Volume{
		{Name: "azure", VolumeSource: corev1.VolumeSource{AzureDisk: &corev1.AzureDiskVolumeSource{DiskName: "d", DataDiskURI: "u"}}},
		{Name: "cephfs", VolumeSource: corev1.VolumeSource{CephFS: &corev1.CephFSVolumeSource{Monitors: []string{"m"}, SecretRef: ref}}},
		{Name: "cinder", VolumeSource: corev1.VolumeSource{Cinder: &corev1.CinderVolumeSource{VolumeID: "v", SecretRef: ref}}},
		{Name: "cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}},
		{Name: "csi", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "d", NodePublishSecretRef: ref}}},
		{Name: "flex", VolumeSource: corev1.VolumeSource{FlexVolume: &corev1.FlexVolumeSource{Driver: "d", SecretRef: ref}}},
		{Name: "iscsi", VolumeSource: corev1.VolumeSource{ISCSI: &corev1.ISCSIVolumeSource{TargetPortal: "t", IQN: "i", SecretRef: ref}}},
		{Name: "projected", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{}}, {Secret: &corev1.SecretProjection{}},
		}}}},
		{Name: "rbd", VolumeSource: corev1.VolumeSource{RBD: &corev1.RBDVolumeSource{CephMonitors: []string{"m"}, RBDImage: "i", SecretRef: ref}}},
		{Name: "scaleio", VolumeSource: corev1.VolumeSource{ScaleIO: &corev1.ScaleIOVolumeSource{Gateway: "g", System: "s", SecretRef: ref}}},
		{Name: "storageos", VolumeSource: corev1.VolumeSource{StorageOS: &corev1.StorageOSVolumeSource{SecretRef: ref}}},
	}
}

// mergePatch changes a SparkJob (or its status) with a JSON merge patch
// under the field manager, as kubectl patch and kubectl edit do.
func mergePatch(t *testing.T, e *testenv.Env, ns, name, manager, patch string, status bool) {
	t.Helper()
	job := &v1alpha1.SparkJob{}
	job.Namespace, job.Name = ns, name
	p := client.RawPatch(types.MergePatchType, []byte(patch))
	var err error
	if status {
		err = e.Client.Status().Patch(t.Context(), job, p, client.FieldOwner(manager))
	} else {
		err = e.Client.Patch(t.Context(), job, p, client.FieldOwner(manager))
	}
	if err != nil {
		t.Fatalf("patch SparkJob '%s/%s' with %s: %v", ns, name, patch, err)
	}
}

// waitEventNote waits for a Warning event about the SparkJob with the
// reason and a note that contains want.
func waitEventNote(t *testing.T, e *testenv.Env, ns, job, reason, want string) {
	t.Helper()
	eventually(t, "a "+reason+" event naming "+want, func() (bool, string) {
		events := &eventsv1.EventList{}
		if err := e.Client.List(t.Context(), events, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, ev := range events.Items {
			if ev.Reason != reason || ev.Regarding.Name != job {
				continue
			}
			seen = append(seen, ev.Note)
			if ev.Type == corev1.EventTypeWarning && strings.Contains(ev.Note, want) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%s events: %q", reason, seen)
	})
}

// setSuspend suspends or resumes a JobSource.
func setSuspend(t *testing.T, e *testenv.Env, ns, name string, suspend bool) {
	t.Helper()
	src := &v1alpha1.JobSource{}
	src.Namespace, src.Name = ns, name
	patch := fmt.Sprintf(`{"spec":{"suspend":%t}}`, suspend)
	if err := e.Client.Patch(context.Background(), src, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		t.Fatal(err)
	}
	if !suspend {
		return
	}
	// The loop has seen the suspension once it reports it: a wake-up by
	// the drift watch then finds it too.
	waitSource(t, e, ns, name, "Suspended", func(s *v1alpha1.JobSource) bool {
		c := apimeta.FindStatusCondition(s.Status.Conditions, meta.ReadyCondition)
		return c != nil && c.Reason == meta.SuspendedReason && c.ObservedGeneration == s.Generation
	})
}

// waitRestored waits until the job has the reviewed spec again, and its
// Ready condition no longer says Drifted.
func waitRestored(t *testing.T, e *testenv.Env, ns string, reviewed *v1alpha1.SparkJob) {
	t.Helper()
	want, err := runid.AppliedSpecDigest(reviewed)
	if err != nil {
		t.Fatal(err)
	}
	job := waitJob(t, e, ns, reviewed.Name, "the reviewed spec restored", func(j *v1alpha1.SparkJob) bool {
		got, err := runid.AppliedSpecDigest(j)
		r := apimeta.FindStatusCondition(j.Status.Conditions, meta.ReadyCondition)
		return err == nil && got == want && r != nil && r.Reason != reconciler.ReasonDrifted
	})
	if job.Spec.Image == nil || *job.Spec.Image != reviewedImage || job.Spec.Driver.NodeSelector != nil {
		t.Errorf("restored spec: image %v, driver nodeSelector %v", job.Spec.Image, job.Spec.Driver.NodeSelector)
	}
	if job.Annotations[v1alpha1.AnnotationRevision] != reviewed.Annotations[v1alpha1.AnnotationRevision] {
		t.Errorf("revision %s after the restore, want %s", job.Annotations[v1alpha1.AnnotationRevision], reviewed.Annotations[v1alpha1.AnnotationRevision])
	}
}
