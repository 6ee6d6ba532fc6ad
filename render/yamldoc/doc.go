// Package yamldoc writes Kubernetes objects as YAML documents, byte for
// byte as sigs.k8s.io/yaml.Marshal writes them (keys sorted, YAML 1.1
// quoting of go.yaml.in/yaml/v2), at a fraction of its cost.
//
// sigs.k8s.io/yaml.Marshal encodes an object as JSON and then parses that
// JSON again with the YAML parser, only to learn which numbers are
// integers. Decode reads the JSON with encoding/json instead and types each
// number as the YAML resolver would have (int, then uint64, then float64),
// so the same emitter gets the same values: rendering a thousand jobs'
// objects spent a quarter of its time in that second parse.
package yamldoc
