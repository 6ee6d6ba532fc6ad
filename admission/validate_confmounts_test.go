package admission

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// TestValidateConfMounts checks the sparkConf volume and secret keys: they
// are honoured, so no ignored-spark-conf finding; a secretKeyRef value is
// a reference, so no credential finding; a mount of a volume sparkConf
// declares is no unknown volume; what Spark refuses is an error.
func TestValidateConfMounts(t *testing.T) {
	const pvc = "spark.kubernetes.driver.volumes.persistentVolumeClaim.spark-local-dir-1."
	const exec = "spark.kubernetes.executor.volumes.hostPath.data."
	tests := []struct {
		name   string
		mutate func(*v1alpha1.SparkJob)
		want   []string // "severity rule field"
	}{
		{name: "data-on-eks local dirs and kudo secrets", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.SparkConf = map[string]string{
				pvc + "options.claimName": "OnDemand", pvc + "options.storageClass": "gp3", pvc + "options.sizeLimit": "100Gi",
				pvc + "mount.path": "/data1", pvc + "mount.readOnly": "false",
				exec + "options.path": "/mnt/k8s-disks", exec + "mount.path": "/data1",
				"spark.kubernetes.driver.secrets.ssl-secrets":                    "/tmp/spark/ssl",
				"spark.kubernetes.driver.secretKeyRef.SPARK_SSL_KEYPASSWORD":     "secrets:key-password",
				"spark.kubernetes.executor.secretKeyRef.SPARK_SSL_TRUSTPASSWORD": "secrets:trust-password",
			}
			mount := corev1.VolumeMount{Name: "spark-local-dir-1", MountPath: "/data1"}
			j.Spec.Driver.InitContainers = []corev1.Container{{Name: "chown", Image: "busybox", VolumeMounts: []corev1.VolumeMount{mount}}}
			j.Spec.Executor.InitContainers = []corev1.Container{{Name: "chown", Image: "busybox", VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data1"}}}}
			j.Spec.Driver.VolumeMounts = []corev1.VolumeMount{{Name: "ssl-secrets-volume", MountPath: "/also/ssl"}}
		}},
		{name: "executor key Spark refuses", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.SparkConf = map[string]string{exec + "mount.path": "/data1"}
		}, want: []string{"error invalid-conf-mount spec.sparkConf[" + exec + "options.path]"}},
		{name: "driver secretKeyRef Spark refuses", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.SparkConf = map[string]string{"spark.kubernetes.driver.secretKeyRef.PASSWORD": "only-a-name"}
		}, want: []string{"error invalid-conf-mount spec.sparkConf[spark.kubernetes.driver.secretKeyRef.PASSWORD]"}},
		{name: "volume declared twice", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.SparkConf = map[string]string{exec + "options.path": "/mnt", exec + "mount.path": "/data1"}
			j.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			j.Spec.Executor.VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/other"}}
		}, want: []string{"error duplicate-volume spec.sparkConf[" + exec + "mount.path]"}},
		{name: "secret volume named like a spec volume", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.SparkConf = map[string]string{"spark.kubernetes.driver.secrets.ssl": "/ssl"}
			j.Spec.Volumes = []corev1.Volume{{Name: "ssl-volume", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			j.Spec.Driver.VolumeMounts = []corev1.VolumeMount{{Name: "ssl-volume", MountPath: "/other"}}
		}, want: []string{"error duplicate-volume spec.sparkConf[spark.kubernetes.driver.secrets.ssl]"}},
		{name: "a declared volume no container mounts is no duplicate", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.SparkConf = map[string]string{exec + "options.path": "/mnt", exec + "mount.path": "/data1"}
			j.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := validTestJob()
			tt.mutate(job)
			var got []string
			for _, f := range Validate(job) {
				got = append(got, string(f.Severity)+" "+f.Rule+" "+f.Field)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate() findings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestValidatePythonVersion checks pythonVersion against the job's Spark:
// "2" before 3.1, where Spark accepts it, an error from 3.1 on.
func TestValidatePythonVersion(t *testing.T) {
	tests := []struct {
		version, python string
		wantError       bool
	}{
		{version: "2.4.5", python: "2"},
		{version: "3.0.1", python: "2"},
		{version: "3.1.1", python: "2", wantError: true},
		{version: "3.5.3", python: "2", wantError: true},
		{version: "", python: "2", wantError: true},
		{version: "2.4.5", python: "3"},
		{version: "3.5.3", python: "3"},
		{version: "2.4.5", python: "27", wantError: true},
	}
	for _, tt := range tests {
		t.Run(tt.version+"/"+tt.python, func(t *testing.T) {
			job := validTestJob()
			job.Spec.Type = v1alpha1.PythonApplication
			job.Spec.MainClass = nil
			job.Spec.SparkVersion, job.Spec.PythonVersion = tt.version, &tt.python
			var got []v1alpha1.Finding
			for _, f := range Validate(job) {
				if f.Rule == RuleInvalidPythonVersion {
					got = append(got, f)
				}
			}
			if (len(got) > 0) != tt.wantError {
				t.Errorf("Validate() invalid-python-version findings = %+v, want an error: %v", got, tt.wantError)
			}
			for _, f := range got {
				if f.Severity != v1alpha1.SeverityError || f.Field != "spec.pythonVersion" || f.Message == "" {
					t.Errorf("finding %+v, want an error on spec.pythonVersion with a message", f)
				}
			}
		})
	}
}
