package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparkcd/sparkcd/decryption/sopstest"
)

// TestDecryptionCommands: render and check accept SOPS-encrypted objects
// without keys and show <sops-encrypted>, never the ciphertext or the
// plaintext; --decryption-keys verifies them: a key that does not open
// one is a decryption-failed finding (exit 1) naming the file, and the
// job that reads it fails too; a keys directory that cannot be read is
// exit 2.
func TestDecryptionCommands(t *testing.T) {
	dir := t.TempDir()
	id, wrong := sopstest.NewIdentity(t), sopstest.NewIdentity(t)
	job := `apiVersion: sparkcd.io/v1alpha1
kind: SparkJob
metadata:
  name: pi
  namespace: spark
spec:
  type: Scala
  image: spark:4.0.0
  mainClass: org.apache.spark.examples.SparkPi
  mainApplicationFile: local:///opt/spark/examples/jars/spark-examples.jar
  sparkVersion: 4.0.0
  driver:
    envFrom:
    - secretRef: {name: creds}
`
	secret := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: spark\nstringData:\n  password: cmd-pl41n-password\ndata:\n  token: Y21kLXBsNDFuLXRva2Vu\n"
	conf := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: conf\n  namespace: spark\ndata:\n  url: cmd-pl41n-url\n"
	files := map[string][]byte{
		"job.yaml":   []byte(job),
		"creds.yaml": sopstest.Encrypt(t, []byte(secret), sopstest.Options{}, id),
		"conf.yaml":  sopstest.Encrypt(t, []byte(conf), sopstest.Options{}, id),
	}
	for _, d := range []string{"jobs", "good", "wrong"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files["good/id.agekey"] = []byte(id.Secret + "\n")
	files["wrong/id.agekey"] = []byte(wrong.Secret + "\n")
	for name, b := range files {
		if !strings.Contains(name, "/") {
			name = "jobs/" + name
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	leaks := func(what, out string) {
		t.Helper()
		for _, s := range []string{"cmd-pl41n", "Y21kLXBsNDFu", "ENC[", "AGE-SECRET-KEY", "\nsops:"} {
			if strings.Contains(out, s) {
				t.Errorf("%s shows %q:\n%s", what, s, out)
			}
		}
	}
	for _, keys := range [][]string{nil, {"--decryption-keys", "good"}} {
		code, out, errOut := sparkcd(t, dir, append([]string{"render", "jobs"}, keys...)...)
		if code != 0 || strings.Count(out, "<sops-encrypted>") != 3 {
			t.Errorf("render %v: exit %d, want 0 and three <sops-encrypted>:\n%s\n%s", keys, code, out, errOut)
		}
		leaks("render", out+errOut)
		code, out, errOut = sparkcd(t, dir, append([]string{"check", "jobs"}, keys...)...)
		if code != 0 {
			t.Errorf("check %v: exit %d:\n%s\n%s", keys, code, out, errOut)
		}
		leaks("check", out+errOut)
	}
	code, out, errOut := sparkcd(t, dir, "check", "jobs", "--decryption-keys", "wrong")
	if code != 1 || !strings.Contains(out, "decryption-failed") || !strings.Contains(out, "'jobs/creds.yaml'") || !strings.Contains(out, "FAIL spark/pi") {
		t.Errorf("check --decryption-keys wrong: exit %d, want 1 with decryption-failed naming jobs/creds.yaml and pi failing:\n%s\n%s", code, out, errOut)
	}
	leaks("check", out+errOut)
	if code, _, errOut := sparkcd(t, dir, "check", "jobs", "--decryption-keys", "none"); code != 2 {
		t.Errorf("check --decryption-keys none: exit %d, want 2: %s", code, errOut)
	}
}
