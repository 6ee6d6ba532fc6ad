package materialize

import (
	"errors"
	"strings"
	"testing"

	"github.com/sparkcd/sparkcd/runid"
)

// TestDriverConfVolumesErrors checks that a driver volume Spark would
// refuse, or whose claim Spark would not create, is an error naming the key
// (more cases: TestConfMountsErrors).
func TestDriverConfVolumesErrors(t *testing.T) {
	const p = "spark.kubernetes.driver.volumes."
	tests := []struct {
		name    string
		conf    map[string]string
		wantKey string
		wantMsg string
	}{
		{name: "no mount path", conf: map[string]string{p + "emptyDir.x.options.medium": "Memory"},
			wantKey: p + "emptyDir.x.mount.path", wantMsg: "spark.kubernetes.driver.volumes.emptyDir.x.mount.path is required"},
		{name: "no claim name", conf: map[string]string{p + "persistentVolumeClaim.d.mount.path": "/d"},
			wantKey: p + "persistentVolumeClaim.d.options.claimName", wantMsg: "is required for a persistentVolumeClaim volume"},
		{name: "on-demand claim", conf: map[string]string{p + "persistentVolumeClaim.d.mount.path": "/d", p + "persistentVolumeClaim.d.options.claimName": "OnDemand"},
			wantKey: p + "persistentVolumeClaim.d.options.claimName", wantMsg: "Spark creates the claim only when both are set"},
		{name: "unknown type", conf: map[string]string{p + "secret.s.mount.path": "/s"},
			wantKey: p + "secret.s.mount.path", wantMsg: "expected hostPath, emptyDir, persistentVolumeClaim or nfs"},
		{name: "executor id on the driver", conf: map[string]string{p + "persistentVolumeClaim.d.mount.path": "/d", p + "persistentVolumeClaim.d.options.claimName": "data-SPARK_EXECUTOR_ID"},
			wantKey: p + "persistentVolumeClaim.d.options.claimName", wantMsg: "the driver has no executor id"},
		{name: "bad size", conf: map[string]string{p + "emptyDir.c.mount.path": "/c", p + "emptyDir.c.options.sizeLimit": "lots"},
			wantKey: p + "emptyDir.c.options.sizeLimit", wantMsg: "expected a quantity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := templateTestJob()
			job.Spec.SparkConf = tt.conf
			_, err := Materialize(job, runid.OfflineRun(job, goldenRevision), DefaultOptions())
			var ce *ConfError
			if !errors.As(err, &ce) {
				t.Fatalf("Materialize() error = %v, want a ConfError", err)
			}
			if ce.Key != tt.wantKey || !strings.Contains(ce.Error(), tt.wantMsg) {
				t.Errorf("error on %q: %v; want key %q and %q", ce.Key, ce, tt.wantKey, tt.wantMsg)
			}
		})
	}
}
