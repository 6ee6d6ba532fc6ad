package build

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Kustomize's errors are one long chain of wrapped messages with absolute
// paths ("accumulating resources: accumulation err='…': must build at
// directory: '/abs/…': file is not directory"). For the mistakes people
// make every day — a resource that does not exist, one object defined
// twice, a patch that matches nothing — explainKustomize finds the
// kustomization and the entry at fault and says it in one line; any other
// error is left as kustomize wrote it.

// accumulatingFrom finds each step of kustomize's resource chain in its
// error text: "accumulating resources from 'NAME'".
var accumulatingFrom = regexp.MustCompile(`accumulating resources from '([^']+)'`)

// explainKustomize returns the file to blame and a one-line error for a
// kustomize error it recognises; ok is false for any other. unitDir is
// the unit's directory relative to the root.
func (f *repoFS) explainKustomize(unitDir string, err error) (file string, msg error, ok bool) {
	for _, explain := range []func(string, error) (string, error, bool){f.missingResource, f.duplicateObject, f.unmatchedPatch} {
		if file, msg, ok := explain(unitDir, err); ok {
			return file, msg, true
		}
	}
	return "", nil, false
}

// kustomizationFile is what the explanations read of a kustomization.
type kustomizationFile struct {
	// path names it in messages: the file, relative to the root, or the
	// directory when sparkcd generated it (a directory without one).
	path      string
	generated bool
	Resources []string `yaml:"resources"`
	Patches   []struct {
		Path   string `yaml:"path"`
		Patch  string `yaml:"patch"`
		Target any    `yaml:"target"`
	} `yaml:"patches"`
	PatchesStrategicMerge []string `yaml:"patchesStrategicMerge"`
}

// kustomizationAt reads the kustomization of dir (relative to the root).
func (f *repoFS) kustomizationAt(dir string) (*kustomizationFile, bool) {
	kf := f.kustomizationIn(f.abs(dir))
	if kf == "" {
		return nil, false
	}
	file := path.Join(dir, kf)
	data, err := f.ReadFile(f.abs(file))
	if err != nil {
		return nil, false
	}
	k := &kustomizationFile{path: file}
	if yaml.Unmarshal(data, k) != nil {
		return nil, false
	}
	if real, err := f.resolve(f.abs(file)); err == nil && f.isVirtual(real) {
		k.path, k.generated = dir, true
	}
	return k, true
}

// innermostKustomization follows kustomize's resource chain in text from
// unitDir into every step that is a directory holding a kustomization. It
// returns that directory and the steps left: the first of them, if any,
// is the entry of its kustomization the error is about.
func (f *repoFS) innermostKustomization(unitDir, text string) (dir string, rest []string) {
	dir = unitDir
	steps := accumulatingFrom.FindAllStringSubmatch(text, -1)
	for i, s := range steps {
		next := path.Join(dir, s[1])
		if !f.IsDir(f.abs(next)) || f.kustomizationIn(f.abs(next)) == "" {
			for _, r := range steps[i:] {
				rest = append(rest, r[1])
			}
			return dir, rest
		}
		dir = next
	}
	return dir, nil
}

// missingResource turns kustomize's error for a resource or base that does
// not exist into one naming the kustomization that lists it and the entry:
// "resources[1]: 'missing.yaml' does not exist".
func (f *repoFS) missingResource(unitDir string, err error) (file string, msg error, ok bool) {
	text := err.Error()
	if !errors.Is(err, fs.ErrNotExist) && !strings.Contains(text, "does not exist") &&
		!strings.Contains(text, "no such file or directory") {
		return "", nil, false
	}
	dir, rest := f.innermostKustomization(unitDir, text)
	if len(rest) == 0 {
		return "", nil, false
	}
	k, ok := f.kustomizationAt(dir)
	if !ok {
		return "", nil, false
	}
	i := slices.Index(k.Resources, rest[0])
	if i < 0 {
		return "", nil, false
	}
	return k.path, &explainedError{fmt.Sprintf("resources[%d]: '%s' does not exist", i, rest[0]), []error{ErrNotFound, ErrKustomize}}, true
}

// explainedError is kustomize's error said plainly; errors.Is finds the
// sentinel errors it lists (always ErrKustomize).
type explainedError struct {
	msg string
	is  []error
}

func (e *explainedError) Error() string   { return e.msg }
func (e *explainedError) Unwrap() []error { return e.is }
