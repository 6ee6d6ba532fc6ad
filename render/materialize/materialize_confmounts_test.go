package materialize

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

// TestConfMountsErrors checks that each sparkConf volume or secret key
// Spark refuses is an error naming that key.
func TestConfMountsErrors(t *testing.T) {
	const d = "spark.kubernetes.driver.volumes."
	tests := []struct {
		name    string
		conf    map[string]string
		key     string
		message string
	}{
		{name: "no mount path", conf: map[string]string{d + "hostPath.data.options.path": "/mnt"},
			key: d + "hostPath.data.mount.path", message: "is required for a hostPath volume"},
		{name: "hostPath without path", conf: map[string]string{d + "hostPath.data.mount.path": "/data"},
			key: d + "hostPath.data.options.path", message: "is required"},
		{name: "claim without name", conf: map[string]string{d + "persistentVolumeClaim.data.mount.path": "/data"},
			key: d + "persistentVolumeClaim.data.options.claimName", message: "is required"},
		{name: "nfs without server", conf: map[string]string{d + "nfs.data.mount.path": "/data", d + "nfs.data.options.path": "/x"},
			key: d + "nfs.data.options.server", message: "is required"},
		{name: "unknown type", conf: map[string]string{d + "configMap.data.mount.path": "/data"},
			key: d + "configMap.data.mount.path", message: "volume type 'configMap'"},
		{name: "subPath and subPathExpr", conf: map[string]string{d + "emptyDir.data.mount.path": "/data",
			d + "emptyDir.data.mount.subPath": "a", d + "emptyDir.data.mount.subPathExpr": "$(X)"},
			key: d + "emptyDir.data.mount.subPathExpr", message: "mutually exclusive"},
		{name: "size without unit", conf: map[string]string{d + "emptyDir.data.mount.path": "/data", d + "emptyDir.data.options.sizeLimit": "100"},
			key: d + "emptyDir.data.options.sizeLimit", message: "smaller than 1KiB"},
		{name: "readOnly not a boolean", conf: map[string]string{d + "emptyDir.data.mount.path": "/data", d + "emptyDir.data.mount.readOnly": "yes"},
			key: d + "emptyDir.data.mount.readOnly", message: "expected true or false"},
		{name: "duplicated mount path", conf: map[string]string{d + "emptyDir.a.mount.path": "/data", d + "emptyDir.b.mount.path": "/data"},
			key: d + "emptyDir.b.mount.path", message: "duplicated mountPath"},
		{name: "short key", conf: map[string]string{d + "emptyDir.data": "/data"},
			key: d + "emptyDir.data", message: "not a volume key"},
		{name: "on-demand claim without class", conf: map[string]string{d + "persistentVolumeClaim.data.mount.path": "/data",
			d + "persistentVolumeClaim.data.options.claimName": "OnDemand", d + "persistentVolumeClaim.data.options.sizeLimit": "10Gi"},
			key: d + "persistentVolumeClaim.data.options.claimName", message: "Spark creates the claim only when both are set"},
		{name: "secretKeyRef without key", conf: map[string]string{"spark.kubernetes.driver.secretKeyRef.PASSWORD": "secrets"},
			key: "spark.kubernetes.driver.secretKeyRef.PASSWORD", message: "in the form name:key"},
		{name: "secret without path", conf: map[string]string{"spark.kubernetes.driver.secrets.ssl": " "},
			key: "spark.kubernetes.driver.secrets.ssl", message: "give its mount path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := decodeJobFile(t, "testdata/materialize/scala-static.job.yaml")
			job.Spec.SparkConf = tt.conf
			_, err := Materialize(job, runid.OfflineRun(job, goldenRevision), DefaultOptions())
			var ce *ConfError
			if !errors.As(err, &ce) {
				t.Fatalf("Materialize() = %v, want a *ConfError", err)
			}
			if ce.Key != tt.key || !strings.Contains(err.Error(), tt.message) {
				t.Errorf("Materialize() = %q on key %q, want key %q and a message with %q", err, ce.Key, tt.key, tt.message)
			}
			executorConf := map[string]string{}
			for k, v := range tt.conf {
				executorConf[strings.Replace(k, ".driver.", ".executor.", 1)] = v
			}
			if tt.name != "on-demand claim without class" && CheckConfMounts(executorConf, v1alpha1.RoleExecutor) == nil {
				t.Errorf("CheckConfMounts() of the executor's keys = nil, want the error Spark's driver meets")
			}
		})
	}
}

// TestConfMountsDriverPod checks what the driver's sparkConf keys do to the
// driver pod beside the golden cases: user env wins over a secretKeyRef of
// the same name, the legacy access mode, the executors' keys leave the
// driver pod alone, and a conf local dir replaces the emptyDir.
func TestConfMountsDriverPod(t *testing.T) {
	job := decodeJobFile(t, "testdata/materialize/scala-static.job.yaml")
	job.Spec.SparkConf = map[string]string{
		"spark.kubernetes.driver.secretKeyRef.TOKEN":                                                   "tokens:api",
		"spark.kubernetes.driver.secretKeyRef.OTHER":                                                   "tokens:other",
		"spark.kubernetes.legacy.useReadWriteOnceAccessMode":                                           "true",
		"spark.kubernetes.driver.volumes.persistentVolumeClaim.spark-local-dir-1.mount.path":           "/data1",
		"spark.kubernetes.driver.volumes.persistentVolumeClaim.spark-local-dir-1.options.claimName":    "OnDemand",
		"spark.kubernetes.driver.volumes.persistentVolumeClaim.spark-local-dir-1.options.storageClass": "gp3",
		"spark.kubernetes.driver.volumes.persistentVolumeClaim.spark-local-dir-1.options.sizeLimit":    "10Gi",
		"spark.kubernetes.driver.volumes.persistentVolumeClaim.spark-local-dir-1.label.team":           "data",
		"spark.kubernetes.executor.volumes.hostPath.exec-only.mount.path":                              "/exec",
		"spark.kubernetes.executor.volumes.hostPath.exec-only.options.path":                            "/mnt/exec",
	}
	job.Spec.Driver.Env = []corev1.EnvVar{{Name: "TOKEN", Value: "from-spec"}}
	run := runid.OfflineRun(job, goldenRevision)
	objs, err := Materialize(job, run, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	c := objs.Pod.Spec.Containers[0]
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		if _, dup := env[e.Name]; dup {
			t.Errorf("env %s appears twice", e.Name)
		}
		env[e.Name] = e
	}
	if got := env["TOKEN"]; got.Value != "from-spec" || got.ValueFrom != nil {
		t.Errorf("TOKEN = %+v, want spec.driver.env's value", got)
	}
	if got := env["OTHER"].ValueFrom; got == nil || got.SecretKeyRef == nil || got.SecretKeyRef.Name != "tokens" || got.SecretKeyRef.Key != "other" {
		t.Errorf("OTHER valueFrom = %+v, want secret 'tokens' key 'other'", got)
	}
	if got := env[envSparkLocalDirs].Value; got != "/data1" {
		t.Errorf("SPARK_LOCAL_DIRS = %q, want the conf volume's mount path", got)
	}
	var local []corev1.Volume
	for _, v := range objs.Pod.Spec.Volumes {
		if v.Name == "exec-only" {
			t.Error("an executor volume key reached the driver pod")
		}
		if strings.HasPrefix(v.Name, localDirVolumePrefix) {
			local = append(local, v)
		}
	}
	if len(local) != 1 || local[0].Ephemeral == nil {
		t.Fatalf("local dir volumes = %+v, want the one ephemeral claim", local)
	}
	tmpl := local[0].Ephemeral.VolumeClaimTemplate
	want := map[string]string{"team": "data", v1alpha1.LabelSparkAppSelector: run.AppID}
	if diff := cmp.Diff(want, tmpl.Labels); diff != "" {
		t.Errorf("claim labels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, tmpl.Spec.AccessModes); diff != "" {
		t.Errorf("access modes with the legacy key (-want +got):\n%s", diff)
	}
}

// TestConfMountsWinOverUnmountedSpecVolume checks that a driver volume
// sparkConf declares is the one on the pod when spec.volumes has an
// unmounted volume of the same name, as with the Operator, which passes
// only mounted spark-local-dir-* volumes on to Spark.
func TestConfMountsWinOverUnmountedSpecVolume(t *testing.T) {
	job := decodeJobFile(t, "testdata/materialize/scala-static.job.yaml")
	const k = "spark.kubernetes.driver.volumes.hostPath.spark-local-dir-1."
	job.Spec.SparkConf = map[string]string{k + "mount.path": "/data1", k + "options.path": "/mnt/disks"}
	job.Spec.Volumes = []corev1.Volume{{Name: "spark-local-dir-1", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	objs, err := Materialize(job, runid.OfflineRun(job, goldenRevision), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var got []corev1.Volume
	for _, v := range objs.Pod.Spec.Volumes {
		if v.Name == "spark-local-dir-1" {
			got = append(got, v)
		}
	}
	want := []corev1.Volume{{Name: "spark-local-dir-1", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/mnt/disks"}}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("spark-local-dir-1 volumes (-want +got):\n%s", diff)
	}
}

// applyExecutorConfMounts adds to an executor pod what Spark's driver adds
// from the executors' sparkConf volume, secret and secretKeyRef keys when
// it builds executor 1 (MountSecretsFeatureStep, EnvSecretsFeatureStep,
// MountVolumesFeatureStep): an OnDemand claim is named as Spark names it.
func applyExecutorConfMounts(t *testing.T, pod *corev1.Pod, conf map[string]string) {
	t.Helper()
	c := &pod.Spec.Containers[0]
	secrets, err := ConfSecretVolumes(conf, v1alpha1.RoleExecutor)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		pod.Spec.Volumes = append(pod.Spec.Volumes, s.Volume)
		c.VolumeMounts = append(c.VolumeMounts, s.Mount)
	}
	env, err := confSecretEnv(conf, v1alpha1.RoleExecutor)
	if err != nil {
		t.Fatal(err)
	}
	c.Env = append(c.Env, env...)
	vols, err := ConfVolumes(conf, v1alpha1.RoleExecutor)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vols {
		if pvc := v.Volume.PersistentVolumeClaim; pvc != nil {
			pvc.ClaimName = strings.ReplaceAll(pvc.ClaimName, pvcOnDemand, pod.Name+"-pvc-"+strconv.Itoa(i))
			pvc.ClaimName = strings.ReplaceAll(pvc.ClaimName, envExecutorID, "1")
		}
		pod.Spec.Volumes = append(pod.Spec.Volumes, v.Volume)
		c.VolumeMounts = append(c.VolumeMounts, v.Mount)
	}
}
