package policies

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// Load reads every policy file under dir, recursively: each *.yaml or *.yml
// file, in lexical order, may hold several documents separated by "---".
// Hidden files and directories (a leading ".", such as .git) are skipped,
// and so are kustomization.yaml files, so a policy directory can also be a
// kustomize base that installs the same policies as cluster objects. dir
// may also name a single file.
//
// Every document must be a sparkcd.io/v1alpha1 AllocationPolicy, decoded
// strictly and validated; Load reports every problem it finds, each as a
// *PolicyError naming the file, the policy and the field, joined into one
// error. A directory with no policy at all is ErrNoPolicies. The policies
// are returned sorted by name.
func Load(dir string) ([]v1alpha1.AllocationPolicy, error) {
	files, err := policyFiles(dir)
	if err != nil {
		return nil, err
	}
	policies, err := LoadFiles(files...)
	if errors.Is(err, ErrNoPolicies) {
		return nil, fmt.Errorf("unable to load policies from '%s': %w", dir, ErrNoPolicies)
	}
	return policies, err
}

// LoadFiles reads the given policy files, each decoded and validated as
// Load does. Names must be unique across all the files.
func LoadFiles(paths ...string) ([]v1alpha1.AllocationPolicy, error) {
	var (
		policies []v1alpha1.AllocationPolicy
		errs     []*PolicyError
		seen     = map[string]string{} // policy name → where it was defined
	)
	for _, file := range paths {
		docs, err := readDocuments(file)
		if err != nil {
			return nil, err
		}
		for i, doc := range docs {
			where := fmt.Sprintf("'%s'", file)
			if len(docs) > 1 {
				where += fmt.Sprintf(" document %d", i+1)
			}
			p, perrs := loadDocument(doc, where, seen)
			for _, e := range perrs {
				e.File = file
				if len(docs) > 1 {
					e.Document = i + 1
				}
			}
			errs = append(errs, perrs...)
			if p != nil && len(perrs) == 0 {
				policies = append(policies, *p)
			}
		}
	}
	if err := joinPolicyErrors(errs); err != nil {
		return nil, err
	}
	if len(policies) == 0 {
		return nil, ErrNoPolicies
	}
	slices.SortFunc(policies, func(a, b v1alpha1.AllocationPolicy) int {
		return strings.Compare(a.Name, b.Name)
	})
	return policies, nil
}

// loadDocument decodes and validates one document, and records its name in
// seen (name → where) so a later duplicate is reported. An empty document
// yields no policy and no error.
func loadDocument(doc []byte, where string, seen map[string]string) (*v1alpha1.AllocationPolicy, []*PolicyError) {
	p, errs := decodePolicy(doc)
	if p == nil || len(errs) > 0 {
		return nil, errs
	}
	if errs := validatePolicy(p); len(errs) > 0 {
		return nil, errs
	}
	if first, ok := seen[p.Name]; ok {
		return nil, []*PolicyError{fieldError(p.Name, "metadata.name", ErrDuplicateName,
			"'%s' is already defined in %s", p.Name, first)}
	}
	seen[p.Name] = where
	return p, nil
}

// policyFiles lists the policy files under dir, or dir itself when it is a
// file.
func policyFiles(dir string) ([]string, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("unable to read policies '%s': %w", dir, err)
	}
	if !info.IsDir() {
		return []string{dir}, nil
	}
	var files []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if path != dir && strings.HasPrefix(name, ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !isPolicyFile(name) {
			return nil
		}
		files = append(files, path)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("unable to read policies '%s': %w", dir, err)
	}
	return files, nil
}

// isPolicyFile reports whether a file name is a YAML file that may hold
// policies.
func isPolicyFile(name string) bool {
	switch name {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
		return false
	}
	ext := filepath.Ext(name)
	return ext == ".yaml" || ext == ".yml"
}

// MaxFileBytes is the largest policy file Load reads: a policy is a few
// kilobytes, and a file far larger is a mistake that should not cost the
// process its memory.
const MaxFileBytes = 16 << 20

// readDocuments splits a file into its YAML documents.
func readDocuments(file string) ([][]byte, error) {
	if fi, err := os.Stat(file); err == nil && fi.Size() > MaxFileBytes {
		return nil, fmt.Errorf("unable to read policy file '%s': %w: %d bytes, more than %d", file, ErrTooLarge, fi.Size(), MaxFileBytes)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("unable to read policy file '%s': %w", file, err)
	}
	r := yaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("unable to read policy file '%s': %w: %w", file, ErrMalformed, err)
		}
		docs = append(docs, doc)
	}
}
