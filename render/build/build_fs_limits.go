package build

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// Bounds on what one file of a repository may cost a build. kustomize reads
// every file whole and expands every YAML alias into a copy of its anchor,
// so without them a single committed file could take the process's memory:
// a billion-laughs document of a few hundred bytes expands to billions of
// nodes.
const (
	// MaxFileBytes is the largest file a build reads. Kubernetes objects
	// are limited to about 1.5 MiB by etcd, so a file this size is already
	// far more than any set of jobs needs.
	MaxFileBytes = 16 << 20
	// maxAliasNodes is how many nodes YAML aliases may add to a file beyond
	// its own, when that is also more than the file's own node count: real
	// files reuse an anchor a few times, a YAML bomb reuses it
	// exponentially.
	maxAliasNodes = 100_000
)

// checkSize refuses a file larger than MaxFileBytes, before it is read.
func checkSize(size int64) error {
	if size > MaxFileBytes {
		return fmt.Errorf("%w: %d bytes, more than the %d a build reads", ErrTooLarge, size, MaxFileBytes)
	}
	return nil
}

// checkAliases refuses YAML whose aliases expand to far more nodes than the
// file holds. A file that does not parse passes: kustomize reports its own
// syntax error, with the line.
func checkAliases(data []byte) error {
	if bytes.IndexByte(data, '&') < 0 || bytes.IndexByte(data, '*') < 0 {
		return nil // no anchor or no alias: nothing to expand
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var literal, expanded int64
	memo := map[*yaml.Node]int64{}
	for {
		// Decoding into a yaml.Node keeps aliases as references: this
		// parse costs the size of the file, not of its expansion.
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil
		}
		literal += countNodes(&doc)
		expanded += expandedNodes(&doc, memo)
		if added := expanded - literal; added > maxAliasNodes && added > literal {
			return fmt.Errorf("%w: its aliases expand its %d nodes to at least %d", ErrAliasBomb, literal, expanded)
		}
	}
	return nil
}

// countNodes counts the nodes as written, an alias as one.
func countNodes(n *yaml.Node) int64 {
	c := int64(1)
	for _, ch := range n.Content {
		c += countNodes(ch)
	}
	return c
}

// expandedNodes counts the nodes once every alias is replaced by a copy of
// its anchor, as kyaml does; memo holds each anchor's count so the count
// itself stays linear. The count saturates rather than overflows.
func expandedNodes(n *yaml.Node, memo map[*yaml.Node]int64) int64 {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		if c, ok := memo[n.Alias]; ok {
			return c
		}
		memo[n.Alias] = 1 // an alias cycle counts once
		c := expandedNodes(n.Alias, memo)
		memo[n.Alias] = c
		return c
	}
	c := int64(1)
	for _, ch := range n.Content {
		c += expandedNodes(ch, memo)
		if c > 1<<50 {
			return 1 << 50
		}
	}
	return c
}
