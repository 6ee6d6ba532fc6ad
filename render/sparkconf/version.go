package sparkconf

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/version"
)

// AtLeast reports whether sparkVersion is at least major.minor. An empty or
// unreadable version counts as the newest Spark, whose defaults apply; a
// version with a suffix ("3.5.0-rc1", "3.5rc1") counts by its numbers, and
// a bare major ("4") as its first minor.
func AtLeast(sparkVersion string, major, minor int) bool {
	v := strings.TrimSpace(sparkVersion)
	if v == "" {
		return true
	}
	parsed, err := version.ParseGeneric(v)
	if err != nil {
		// ParseGeneric wants two fields at least: "4" is "4.0".
		if parsed, err = version.ParseGeneric(v + ".0"); err != nil {
			return true
		}
	}
	return parsed.AtLeast(version.MajorMinor(uint(major), uint(minor)))
}
