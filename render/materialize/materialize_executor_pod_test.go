package materialize

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/sparkcd/sparkcd/runid"
)

// TestExecutorPod: the executor pod admission judges is the template with
// what Spark's executor steps add — image, blockmanager port, the conf
// ConfigMap, restartPolicy, and the executors' sparkConf volumes.
func TestExecutorPod(t *testing.T) {
	job := decodeJobFile(t, "testdata/materialize/scala-static.job.yaml")
	job.Spec.SparkConf = map[string]string{
		"spark.kubernetes.executor.volumes.hostPath.data.mount.path":   "/data",
		"spark.kubernetes.executor.volumes.hostPath.data.options.path": "/var/lib/data",
	}
	image := "registry.example.com/spark-exec:1"
	job.Spec.Executor.Image = &image
	run := runid.OfflineRun(job, "")
	objs, err := Materialize(job, run, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	pod := objs.Executor
	c := pod.Spec.Containers[0]
	got := map[string]any{
		"name": pod.Name, "namespace": pod.Namespace, "restartPolicy": pod.Spec.RestartPolicy,
		"container": c.Name, "image": c.Image, "ports": c.Ports, "mounts": c.VolumeMounts,
		"volumes": volumeNames(pod.Spec.Volumes),
	}
	want := map[string]any{
		"name": run.Name + "-exec-1", "namespace": job.Namespace, "restartPolicy": corev1.RestartPolicyNever,
		"container": executorContainerName, "image": "registry.example.com/spark-exec:1",
		"ports":   []corev1.ContainerPort{{Name: "blockmanager", ContainerPort: 7079, Protocol: corev1.ProtocolTCP}},
		"mounts":  []corev1.VolumeMount{{Name: executorConfVolume, MountPath: sparkConfDir}, {Name: "data", MountPath: "/data"}},
		"volumes": []string{executorConfVolume, "data"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("executor pod (-want +got):\n%s", diff)
	}
	if hp := pod.Spec.Volumes[1].HostPath; hp == nil || hp.Path != "/var/lib/data" {
		t.Errorf("volume data = %+v, want hostPath /var/lib/data", pod.Spec.Volumes[1])
	}
}

func volumeNames(vs []corev1.Volume) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Name)
	}
	return out
}
