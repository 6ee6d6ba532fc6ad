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

// accumulatingFrom finds each step of kustomize's resource chain in its
// error text: "accumulating resources from 'NAME'".
var accumulatingFrom = regexp.MustCompile(`accumulating resources from '([^']+)'`)

// missingResource turns kustomize's error for a resource or base that does
// not exist into one naming the kustomization that lists it and the entry:
// "resources[1]: 'missing.yaml' does not exist". unitDir is the unit's
// directory relative to the root. ok is false for any other error.
func (f *repoFS) missingResource(unitDir string, err error) (file string, msg error, ok bool) {
	text := err.Error()
	if !errors.Is(err, fs.ErrNotExist) && !strings.Contains(text, "does not exist") &&
		!strings.Contains(text, "no such file or directory") {
		return "", nil, false
	}
	steps := accumulatingFrom.FindAllStringSubmatch(text, -1)
	if len(steps) == 0 {
		return "", nil, false
	}
	dir := unitDir
	for _, s := range steps[:len(steps)-1] {
		dir = path.Join(dir, s[1])
	}
	name := steps[len(steps)-1][1]
	kf := f.kustomizationIn(f.abs(dir))
	if kf == "" {
		return "", nil, false
	}
	file = path.Join(dir, kf)
	data, rerr := f.ReadFile(f.abs(file))
	if rerr != nil {
		return "", nil, false
	}
	var k struct {
		Resources []string `yaml:"resources"`
	}
	if yaml.Unmarshal(data, &k) != nil {
		return "", nil, false
	}
	i := slices.Index(k.Resources, name)
	if i < 0 {
		return "", nil, false
	}
	return file, &missingError{fmt.Sprintf("resources[%d]: '%s' does not exist", i, name)}, true
}

// missingError is a resource that does not exist; errors.Is finds
// ErrNotFound and ErrKustomize.
type missingError struct{ msg string }

func (e *missingError) Error() string   { return e.msg }
func (e *missingError) Unwrap() []error { return []error{ErrNotFound, ErrKustomize} }
