package build

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

var (
	// mergingFrom is the entry kustomize was adding when it met an object
	// id already in the build.
	mergingFrom = regexp.MustCompile(`merging resources from '([^']+)'`)
	// registeredID and unmatchedID find the object id, as kustomize
	// writes it ("SparkJob.v1alpha1.sparkcd.io/spark-pi.[noNs]").
	registeredID = regexp.MustCompile(`already registered id: ([^'\s;]+)`)
	unmatchedID  = regexp.MustCompile(`no matches for Id ([^'\s;]+)`)
)

// maxBaseDepth bounds how deep duplicateObject looks through bases for the
// first definition of an object.
const maxBaseDepth = 8

// objectID is a kind, namespace and name, the id kustomize keeps unique.
type objectID struct{ kind, namespace, name string }

// parseResID reads kustomize's resid string: Kind.version.group/name.namespace,
// with "[noNs]" for no namespace. Names may hold dots; namespaces never do.
func parseResID(s string) (objectID, bool) {
	gvk, nn, ok := strings.Cut(s, "/")
	i := strings.LastIndex(nn, ".")
	if !ok || i <= 0 {
		return objectID{}, false
	}
	kind, _, _ := strings.Cut(gvk, ".")
	id := objectID{kind: kind, name: nn[:i], namespace: nn[i+1:]}
	if id.namespace == "[noNs]" {
		id.namespace = ""
	}
	return id, kind != ""
}

func (id objectID) String() string {
	if id.namespace == "" {
		return fmt.Sprintf("%s '%s'", id.kind, id.name)
	}
	return fmt.Sprintf("%s '%s/%s'", id.kind, id.namespace, id.name)
}

// definitions counts the YAML documents of data that are the object id; a
// document without a namespace matches any (a kustomization may set it).
func (id objectID) definitions(data []byte) int {
	n := 0
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc struct {
			Kind     string `yaml:"kind"`
			Metadata struct {
				Name      string `yaml:"name"`
				Namespace string `yaml:"namespace"`
			} `yaml:"metadata"`
		}
		if dec.Decode(&doc) != nil { // the end, or a document that is no object
			return n
		}
		ns := doc.Metadata.Namespace
		if doc.Kind == id.kind && doc.Metadata.Name == id.name && (id.namespace == "" || ns == "" || ns == id.namespace) {
			n++
		}
	}
}

// duplicateObject explains "may not add resource with an already
// registered id": the entry that defines the object a second time and,
// when it can be found, the file that defined it first.
func (f *repoFS) duplicateObject(unitDir string, err error) (file string, msg error, ok bool) {
	text := err.Error()
	m := registeredID.FindStringSubmatch(text)
	if m == nil {
		return "", nil, false
	}
	id, ok := parseResID(m[1])
	if !ok {
		return "", nil, false
	}
	dir, rest := f.innermostKustomization(unitDir, text)
	k, ok := f.kustomizationAt(dir)
	if !ok {
		return "", nil, false
	}
	rule := "an object (kind, namespace, name) may be defined once in a build: remove one, or give them different names"
	if e := mergingFrom.FindStringSubmatch(text); e != nil {
		i := slices.Index(k.Resources, e[1])
		if i < 0 {
			return "", nil, false
		}
		first := "an earlier entry"
		for _, r := range k.Resources[:i] {
			if where, ok := f.definedIn(path.Join(dir, r), id, 0); ok {
				first = "'" + where + "'"
				break
			}
		}
		return k.path, &explainedError{fmt.Sprintf("%s defines %s, which %s already defines: %s",
			k.entry(i), id, first, rule), []error{ErrKustomize}}, true
	}
	if len(rest) == 1 && slices.Contains(k.Resources, rest[0]) {
		return path.Join(dir, rest[0]), &explainedError{fmt.Sprintf("%s is defined twice in this file: %s", id, rule), []error{ErrKustomize}}, true
	}
	return "", nil, false
}

// entry names resources[i] of k: with its index in a kustomization of the
// repository, by name alone in a generated one.
func (k *kustomizationFile) entry(i int) string {
	if k.generated {
		return fmt.Sprintf("'%s'", k.Resources[i])
	}
	return fmt.Sprintf("resources[%d] '%s'", i, k.Resources[i])
}

// definedIn finds the file under p (relative to the root: a file, or a
// directory with a kustomization whose resources are searched) defining id.
func (f *repoFS) definedIn(p string, id objectID, depth int) (string, bool) {
	if depth > maxBaseDepth {
		return "", false
	}
	if f.IsDir(f.abs(p)) {
		k, ok := f.kustomizationAt(p)
		if !ok {
			return "", false
		}
		for _, r := range k.Resources {
			if where, ok := f.definedIn(path.Join(p, r), id, depth+1); ok {
				return where, true
			}
		}
		return "", false
	}
	data, err := f.ReadFile(f.abs(p))
	if err != nil || id.definitions(data) == 0 {
		return "", false
	}
	return p, true
}

// unmatchedPatch explains a strategic-merge patch whose object is not in
// the build: the kustomization, its patch entry and the object it names.
func (f *repoFS) unmatchedPatch(unitDir string, err error) (file string, msg error, ok bool) {
	text := err.Error()
	m := unmatchedID.FindStringSubmatch(text)
	if m == nil {
		return "", nil, false
	}
	id, ok := parseResID(m[1])
	if !ok {
		return "", nil, false
	}
	dir, _ := f.innermostKustomization(unitDir, text)
	k, ok := f.kustomizationAt(dir)
	if !ok {
		return "", nil, false
	}
	entry, ok := f.patchFor(dir, k, id)
	if !ok {
		return "", nil, false
	}
	return k.path, &explainedError{fmt.Sprintf("%s patches %s, which is not in this build: check the patch's kind, name and namespace against the resources it builds on",
		entry, id), []error{ErrKustomize}}, true
}

// patchFor finds the strategic-merge patch entry of k (in dir) for id.
func (f *repoFS) patchFor(dir string, k *kustomizationFile, id objectID) (string, bool) {
	body := func(inline, file string) []byte {
		if inline != "" {
			return []byte(inline)
		}
		data, err := f.ReadFile(f.abs(path.Join(dir, file)))
		if err != nil {
			return nil
		}
		return data
	}
	for i, p := range k.Patches {
		if p.Target == nil && id.definitions(body(p.Patch, p.Path)) > 0 {
			if p.Path != "" {
				return fmt.Sprintf("patches[%d] '%s'", i, p.Path), true
			}
			return fmt.Sprintf("patches[%d]", i), true
		}
	}
	for i, p := range k.PatchesStrategicMerge {
		if strings.Contains(p, "\n") {
			if id.definitions([]byte(p)) > 0 {
				return fmt.Sprintf("patchesStrategicMerge[%d]", i), true
			}
		} else if id.definitions(body("", p)) > 0 {
			return fmt.Sprintf("patchesStrategicMerge[%d] '%s'", i, p), true
		}
	}
	return "", false
}
