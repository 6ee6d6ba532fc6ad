package decryption

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/build"
)

// Options say how the encrypted objects of a build are handled.
type Options struct {
	// Keys open the objects; nil when the source has none.
	Keys *Keys
	// KeysErr is why there are no keys although decryption is configured
	// (the Secret is missing, holds no identity…): every encrypted object
	// fails with it.
	KeysErr error
	// Required makes an encrypted object without Keys a finding
	// (decryption-not-configured), as in the cluster. Without it (`sparkcd
	// check` without --decryption-keys) such an object is accepted masked.
	Required bool
	// Mask keeps Placeholder in place of the values even when they
	// decrypt: a review verifies them and never shows them.
	Mask bool
}

// Outcome is what Decrypt found.
type Outcome struct {
	// Objects are the findings of the supporting objects, by index into
	// the build's Objects; an object with one is never applied.
	Objects map[int][]v1alpha1.Finding
	// Failed are the encrypted objects that are not applied, by
	// "Kind/namespace/name" (core group only: the kinds a job reads), with
	// why; the jobs that read one are held back (admission).
	Failed map[string]string
	// Decrypted counts the objects decrypted.
	Decrypted int
}

// Failure is why the object kind/namespace/name is not applied, "" when
// it is not an encrypted object that failed.
func (o *Outcome) Failure(kind, namespace, name string) string {
	if o == nil {
		return ""
	}
	return o.Failed[kind+"/"+namespace+"/"+name]
}

// Decrypt replaces, in res, every encrypted supporting object by its
// decrypted copy (or masked copy, see Options) and reports the objects it
// cannot decrypt; a job that is encrypted gets a finding in its
// Findings. root is the checkout the
// build read: an object's values are decrypted from the file it came from,
// whose MAC sops checks, and only values that are that file's ciphertexts
// are replaced. Nothing is written anywhere.
func Decrypt(root string, res *build.BuildResult, opts Options) *Outcome {
	out := &Outcome{Objects: map[int][]v1alpha1.Finding{}, Failed: map[string]string{}}
	files := &fileCache{root: root, keys: opts.Keys, decrypted: map[string]plaintexts{}, errs: map[string]error{}}
	for i := range res.Objects {
		o := &res.Objects[i]
		if o.Object == nil || !IsEncrypted(o.Object) {
			continue
		}
		plain, f := decryptObject(o, files, opts)
		switch {
		case f != nil:
			o.Object = Masked(o.Object)
			out.Objects[i] = []v1alpha1.Finding{*f}
			if o.Group == "" {
				out.Failed[o.Kind+"/"+o.Namespace+"/"+o.Name] = f.Message
			}
		case opts.Mask || plain == nil:
			o.Object = Masked(o.Object)
		default:
			o.Object = plain
			out.Decrypted++
		}
	}
	for i := range res.Jobs {
		j := &res.Jobs[i]
		if files.encryptedDocument(j.Origin.File) {
			// Clipped: the build's cache may share the slice.
			j.Findings = append(slices.Clip(j.Findings), v1alpha1.Finding{Severity: v1alpha1.SeverityError, Rule: RuleEncryptedJob, Field: "sops",
				Message: fmt.Sprintf("'%s' is encrypted with sops: a job must be reviewable, so only Secrets and other supporting objects may be encrypted", j.Origin.File)})
		}
	}
	return out
}

// decryptObject returns the decrypted copy of o, nil when there are no
// keys and none are required, or the finding that holds o back.
func decryptObject(o *build.Object, files *fileCache, opts Options) (*unstructured.Unstructured, *v1alpha1.Finding) {
	fail := func(rule, field, msg string) *v1alpha1.Finding {
		return &v1alpha1.Finding{Severity: v1alpha1.SeverityError, Rule: rule, Field: field,
			Message: fmt.Sprintf("%s '%s' in '%s': %s", o.Kind, o.Name, o.Origin.File, msg)}
	}
	if field := encryptedMetadata(o.Object); field != "" {
		return nil, fail(RuleEncryptedMetadata, field, fmt.Sprintf("'%s' is encrypted; sops must leave apiVersion, kind and metadata in clear (encrypt with --encrypted-regex '^(data|stringData)$')", field))
	}
	switch {
	case opts.KeysErr != nil:
		return nil, fail(RuleDecryptionFailed, "sops", "cannot be decrypted: "+opts.KeysErr.Error())
	case opts.Keys == nil && opts.Required:
		return nil, fail(RuleDecryptionNotConfigured, "sops", "is encrypted with sops, but the JobSource has no spec.decryption: it is not applied")
	case opts.Keys == nil:
		return nil, nil
	}
	pt, err := files.decrypt(o.Origin.File)
	if err != nil {
		return nil, fail(RuleDecryptionFailed, "sops", "cannot be decrypted: "+err.Error())
	}
	u := o.Object.DeepCopy()
	delete(u.Object, "sops")
	if field, ok := substitute(u.Object, "", pt); !ok {
		return nil, fail(RuleDecryptionFailed, field, fmt.Sprintf("the encrypted value of '%s' is not one of the file's: it was changed or copied from elsewhere", field))
	}
	return u, nil
}

// fileCache reads and decrypts each file once per Decrypt.
type fileCache struct {
	root      string
	keys      *Keys
	decrypted map[string]plaintexts
	errs      map[string]error
}

func (c *fileCache) read(file string) ([]byte, error) {
	if file == "" {
		return nil, fmt.Errorf("the object comes from no file of the repository (a generator or a remote base)")
	}
	// os.Root keeps the read inside the checkout, symbolic links included.
	r, err := os.OpenRoot(c.root)
	if err != nil {
		return nil, fmt.Errorf("unable to open the checkout: %w", err)
	}
	defer r.Close()
	f, err := r.Open(filepath.FromSlash(file))
	if err != nil {
		return nil, fmt.Errorf("unable to read '%s' in the repository", file)
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxFileSize+1))
}

func (c *fileCache) decrypt(file string) (plaintexts, error) {
	if pt, ok := c.decrypted[file]; ok {
		return pt, nil
	}
	if err, ok := c.errs[file]; ok {
		return nil, err
	}
	data, err := c.read(file)
	if err == nil {
		var pt plaintexts
		if pt, err = decryptFile(data, c.keys); err == nil {
			c.decrypted[file] = pt
			return pt, nil
		}
	}
	c.errs[file] = err
	return nil, err
}

// encryptedDocument tells whether a document of file has sops metadata.
func (c *fileCache) encryptedDocument(file string) bool {
	data, err := c.read(file)
	if err != nil || !bytes.Contains(data, []byte("sops")) {
		return false
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			return false
		}
		if _, ok := doc["sops"].(map[string]any); ok {
			return true
		}
	}
}
