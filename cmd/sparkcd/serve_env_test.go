package main

import (
	"bufio"
	"os"
	"regexp"
	"strings"
	"testing"
)

// envLine is a setting of sparkcd.env, commented out or not.
var envLine = regexp.MustCompile(`^#?(SPARKCD_[A-Z0-9_]+)=(.*)$`)

// TestConfigEnvFile: every setting of the sparkcd-config ConfigMap's
// sparkcd.env, the commented-out examples included, names a flag of
// `sparkcd serve`, and with all of them uncommented at once serve
// accepts its configuration — an example that cannot be used as written
// (a variable no flag reads, a selector without its namespaces) fails
// here rather than in a platform team's Deployment.
func TestConfigEnvFile(t *testing.T) {
	file, err := os.Open("../../deploy/base/config/sparkcd.env")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	f := &serveFlags{}
	cmd := newServeCommandWith(f)
	n := 0
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		m := envLine.FindStringSubmatch(scanner.Text())
		if m == nil {
			continue
		}
		n++
		name := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(m[1], envPrefix), "_", "-"))
		if cmd.Flags().Lookup(name) == nil {
			t.Errorf("sparkcd.env sets %s, but serve has no flag --%s", m[1], name)
		}
		t.Setenv(m[1], m[2])
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("read %d settings from sparkcd.env; the file changed shape", n)
	}
	if err := cmd.ParseFlags(nil); err != nil {
		t.Fatal(err)
	}
	if err := f.complete(cmd); err != nil {
		t.Fatalf("serve refuses sparkcd.env with every setting uncommented: %v", err)
	}
	if _, err := f.cleanup.options(); err != nil {
		t.Errorf("serve's cleanup refuses sparkcd.env with every setting uncommented: %v", err)
	}
}
