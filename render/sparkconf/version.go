package sparkconf

import (
	"strconv"
	"strings"
)

// AtLeast reports whether sparkVersion is at least major.minor. An empty or
// unreadable version counts as the newest Spark, whose defaults apply; a
// minor version with a suffix ("5rc1") counts by its leading digits.
func AtLeast(sparkVersion string, major, minor int) bool {
	v := strings.TrimPrefix(strings.TrimSpace(sparkVersion), "v")
	if v == "" {
		return true
	}
	parts := strings.SplitN(v, ".", 3)
	maj, err := strconv.Atoi(parts[0])
	if err != nil {
		return true
	}
	mnr := 0
	if len(parts) > 1 {
		end := strings.IndexFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' })
		if end < 0 {
			end = len(parts[1])
		}
		if m, err := strconv.Atoi(parts[1][:end]); err == nil {
			mnr = m
		}
	}
	if maj != major {
		return maj > major
	}
	return mnr >= minor
}
