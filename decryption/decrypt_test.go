package decryption_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/decryption"
	"github.com/sparkcd/sparkcd/decryption/sopstest"
	"github.com/sparkcd/sparkcd/render/build"
)

const secretYAML = `apiVersion: v1
kind: Secret
metadata:
  name: db
  labels:
    team: data
type: Opaque
stringData:
  password: s3cr3t-plaintext
data:
  token: dG9rZW4tcGxhaW50ZXh0
`

// object reads an encrypted file as the build yields it.
func object(t *testing.T, root, file string) build.Object {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(b, &u.Object); err != nil {
		t.Fatal(err)
	}
	return build.Object{Object: u, GroupKind: schema.GroupKind{Kind: u.GetKind()}, Name: u.GetName(), Namespace: "ns",
		Origin: build.Origin{File: file, Kind: u.GetKind()}, Line: 1}
}

func write(t *testing.T, root, file string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(root, file), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func keys(t *testing.T, ids ...sopstest.Identity) *decryption.Keys {
	t.Helper()
	data := map[string][]byte{"README": []byte("not a key")}
	for i, id := range ids {
		data[string(rune('a'+i))+".agekey"] = []byte("# created: test\n" + id.Secret + "\n")
	}
	k, err := decryption.KeysFromData(data)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestDecrypt(t *testing.T) {
	id, other := sopstest.NewIdentity(t), sopstest.NewIdentity(t)
	root := t.TempDir()
	write(t, root, "secret.yaml", sopstest.Encrypt(t, []byte(secretYAML), sopstest.Options{}, id))
	tampered := bytes.Replace(sopstest.Encrypt(t, []byte(secretYAML), sopstest.Options{}, id), []byte("type: Opaque"), []byte("type: Other"), 1)
	write(t, root, "tampered.yaml", tampered)
	write(t, root, "metadata.yaml", sopstest.Encrypt(t, []byte(secretYAML), sopstest.Options{EncryptedRegex: "^(data|labels)$"}, id))
	write(t, root, "pgp.yaml", sopstest.Encrypt(t, []byte(secretYAML), sopstest.Options{PGPFingerprint: "85D77543B3D624B63CEA9E6DBC17301B491B3F21"}))
	tests := []struct {
		name     string
		file     string
		opts     decryption.Options
		rule     string // "" for none
		contains string
		plain    bool // the data is decrypted
	}{
		{name: "good key", file: "secret.yaml", opts: decryption.Options{Keys: keys(t, other, id), Required: true}, plain: true},
		{name: "wrong key", file: "secret.yaml", opts: decryption.Options{Keys: keys(t, other), Required: true},
			rule: decryption.RuleDecryptionFailed, contains: "no age identity opens the data key: the file is encrypted for " + id.Recipient},
		{name: "tampered MAC", file: "tampered.yaml", opts: decryption.Options{Keys: keys(t, id), Required: true},
			rule: decryption.RuleDecryptionFailed, contains: "MAC mismatch"},
		{name: "encrypted metadata", file: "metadata.yaml", opts: decryption.Options{Keys: keys(t, id), Required: true},
			rule: decryption.RuleEncryptedMetadata, contains: "'metadata.labels.team' is encrypted"},
		{name: "pgp only", file: "pgp.yaml", opts: decryption.Options{Keys: keys(t, id), Required: true},
			rule: decryption.RuleDecryptionFailed, contains: "key type not supported: the file is encrypted for pgp only"},
		{name: "not configured", file: "secret.yaml", opts: decryption.Options{Required: true},
			rule: decryption.RuleDecryptionNotConfigured, contains: "no spec.decryption"},
		{name: "offline without keys", file: "secret.yaml"},
		{name: "offline with keys, masked", file: "secret.yaml", opts: decryption.Options{Keys: keys(t, id), Mask: true}},
		{name: "keys error", file: "secret.yaml", opts: decryption.Options{KeysErr: decryption.ErrNoKeys, Required: true},
			rule: decryption.RuleDecryptionFailed, contains: "no age identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := &build.BuildResult{Objects: []build.Object{object(t, root, tt.file)}}
			out := decryption.Decrypt(root, res, tt.opts)
			got := res.Objects[0].Object
			if _, ok := got.Object["sops"]; ok {
				t.Error("the sops metadata is still in the object")
			}
			f := out.Objects[0]
			switch {
			case tt.rule == "" && len(f) > 0:
				t.Fatalf("unexpected findings %+v", f)
			case tt.rule != "" && (len(f) != 1 || f[0].Rule != tt.rule || !strings.Contains(f[0].Message, tt.contains) || !strings.Contains(f[0].Message, "'"+tt.file+"'")):
				t.Fatalf("findings = %+v, want one %s naming '%s' and saying %q", f, tt.rule, tt.file, tt.contains)
			case tt.rule != "" && out.Failure("Secret", "ns", "db") == "":
				t.Error("the failed Secret is not in Failed")
			}
			if strings.Contains(fmtFindings(f), "plaintext") || strings.Contains(fmtFindings(f), "AGE-SECRET-KEY") {
				t.Errorf("a finding quotes a secret: %+v", f)
			}
			want := map[string]any{"password": decryption.Placeholder}
			wantData := map[string]any{"token": decryption.Placeholder}
			if tt.plain {
				want, wantData = map[string]any{"password": "s3cr3t-plaintext"}, map[string]any{"token": "dG9rZW4tcGxhaW50ZXh0"}
			}
			if diff := cmp.Diff(want, got.Object["stringData"]); diff != "" && tt.rule != decryption.RuleEncryptedMetadata {
				t.Errorf("stringData (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantData, got.Object["data"]); diff != "" && tt.rule != decryption.RuleEncryptedMetadata {
				t.Errorf("data (-want +got):\n%s", diff)
			}
			if got.GetName() != "db" || got.GetKind() != "Secret" {
				t.Errorf("metadata changed: %s %s", got.GetKind(), got.GetName())
			}
		})
	}
}

func fmtFindings(fs []v1alpha1.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Field + " " + f.Message + "\n")
	}
	return b.String()
}

// TestDecryptForeignValue: a ciphertext that is not the file's (copied
// from another file, or patched in by an overlay) is refused, even with
// the right key: the MAC vouches for the file's values only.
func TestDecryptForeignValue(t *testing.T) {
	id := sopstest.NewIdentity(t)
	root := t.TempDir()
	write(t, root, "a.yaml", sopstest.Encrypt(t, []byte(secretYAML), sopstest.Options{}, id))
	write(t, root, "b.yaml", sopstest.Encrypt(t, []byte(secretYAML), sopstest.Options{}, id))
	a, b := object(t, root, "a.yaml"), object(t, root, "b.yaml")
	a.Object.Object["data"] = b.Object.Object["data"]
	res := &build.BuildResult{Objects: []build.Object{a}}
	out := decryption.Decrypt(root, res, decryption.Options{Keys: keys(t, id), Required: true})
	f := out.Objects[0]
	if len(f) != 1 || f[0].Rule != decryption.RuleDecryptionFailed || f[0].Field != "data.token" {
		t.Fatalf("findings = %+v, want decryption-failed at data.token", f)
	}
}

// TestDecryptEncryptedJob: a SparkJob file encrypted with sops is a
// finding on the job.
func TestDecryptEncryptedJob(t *testing.T) {
	id := sopstest.NewIdentity(t)
	root := t.TempDir()
	job := "apiVersion: sparkcd.io/v1alpha1\nkind: SparkJob\nmetadata:\n  name: pi\nspec:\n  image: spark:4\n"
	write(t, root, "job.yaml", sopstest.Encrypt(t, []byte(job), sopstest.Options{EncryptedRegex: "^spec$"}, id))
	write(t, root, "plain.yaml", []byte(job))
	res := &build.BuildResult{Jobs: []build.Job{{Name: "pi", Origin: build.Origin{File: "job.yaml"}}, {Name: "plain", Origin: build.Origin{File: "plain.yaml"}}}}
	decryption.Decrypt(root, res, decryption.Options{Keys: keys(t, id), Required: true})
	if f := res.Jobs[0].Findings; len(f) != 1 || f[0].Rule != decryption.RuleEncryptedJob || !strings.Contains(f[0].Message, "'job.yaml'") {
		t.Fatalf("findings of the encrypted job = %+v", f)
	}
	if f := res.Jobs[1].Findings; len(f) != 0 {
		t.Fatalf("findings of the plain job = %+v", f)
	}
}

func TestKeysFromData(t *testing.T) {
	id := sopstest.NewIdentity(t)
	if _, err := decryption.KeysFromData(map[string][]byte{"identity": []byte(id.Secret)}); err == nil || !strings.Contains(err.Error(), ".agekey") {
		t.Errorf("no .agekey: err = %v", err)
	}
	bad := strings.Replace(id.Secret, "AGE-SECRET-KEY-1", "AGE-SECRET-KEY-1X", 1)
	_, err := decryption.KeysFromData(map[string][]byte{"x.agekey": []byte(bad)})
	if err == nil || !strings.Contains(err.Error(), "'x.agekey'") || strings.Contains(err.Error(), id.Secret[20:]) {
		t.Errorf("bad identity: err = %v, want one naming the key and not quoting it", err)
	}
	_, err = decryption.KeysFromData(map[string][]byte{"p.agekey": []byte("# yubikey\nAGE-PLUGIN-YUBIKEY-1QQQQQQ\n")})
	if err == nil || !strings.Contains(err.Error(), "plugin") {
		t.Errorf("plugin identity: err = %v, want it refused", err)
	}
	dir := t.TempDir()
	write(t, dir, "ci.agekey", []byte(id.Secret+"\n"))
	k, err := decryption.KeysFromDir(dir)
	if err != nil || k.Len() != 1 || strings.Contains(k.String(), "AGE") {
		t.Errorf("KeysFromDir = %v, %v", k, err)
	}
}
