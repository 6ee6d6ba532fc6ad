package sparkconf

import (
	"strconv"
	"testing"
	"time"
)

// FuzzParseMemoryMiB checks that any input parses or fails without a panic,
// and that a parsed size is never negative and reads back the same in MiB.
func FuzzParseMemoryMiB(f *testing.F) {
	for _, s := range []string{"512m", "4g", "4gb", "1t", "2048k", "1024", "4Gi", "1.5g", "", "-1", "9999999999999p", "0b", "1P"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		mib, err := ParseMemoryMiB(s)
		if err != nil {
			return
		}
		if mib < 0 {
			t.Fatalf("ParseMemoryMiB(%q) = %d, negative", s, mib)
		}
		back, err := ParseMemoryMiB(strconv.FormatInt(mib, 10) + "m")
		if err != nil || back != mib {
			t.Fatalf("ParseMemoryMiB(%q) = %d, but %dm reads back as %d, %v", s, mib, mib, back, err)
		}
	})
}

// FuzzParseDuration checks that any input parses or fails without a panic,
// and that FormatDuration of a parsed duration reads back unchanged.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"60s", "15min", "1h", "500ms", "2d", "30", "1m30s", "1.5h", "-5s", "", "250us", "999999999999d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s, time.Second)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("ParseDuration(%q) = %v, negative", s, d)
		}
		if d%time.Microsecond != 0 {
			return // below Spark's resolution: FormatDuration cannot say it
		}
		back, err := ParseDuration(FormatDuration(d), time.Second)
		if err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v, FormatDuration gives %q which reads back as %v, %v", s, d, FormatDuration(d), back, err)
		}
	})
}
