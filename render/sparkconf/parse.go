package sparkconf

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Byte units as multiples of one byte, the way Spark's ByteUnit names them.
const (
	byteB  int64 = 1
	byteKi int64 = 1 << 10
	byteMi int64 = 1 << 20
	byteGi int64 = 1 << 30
	byteTi int64 = 1 << 40
	bytePi int64 = 1 << 50
)

// byteSuffixes are the suffixes Spark's JavaUtils accepts in byte strings.
var byteSuffixes = map[string]int64{
	"b": byteB, "k": byteKi, "kb": byteKi, "m": byteMi, "mb": byteMi,
	"g": byteGi, "gb": byteGi, "t": byteTi, "tb": byteTi, "p": bytePi, "pb": bytePi,
}

var (
	sparkNumber     = regexp.MustCompile(`^([0-9]+)([a-z]+)?$`)
	sparkFraction   = regexp.MustCompile(`^([0-9]+\.[0-9]+)([a-z]+)?$`)
	sparkTimeNumber = regexp.MustCompile(`^(-?[0-9]+)([a-z]+)?$`)
	kubeMemory      = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)([kmgtpe])i$`)
)

// ParseMemoryMiB parses Spark's byte strings as spark.driver.memory reads
// them: "512m", "4g", "4gb", "1t", "2048k"; a bare number is MiB. Smaller
// units are truncated to whole MiB, as Spark does. Kubernetes forms like
// "4Gi" are an error whose message suggests the Spark form ("use \"4g\"").
func ParseMemoryMiB(s string) (int64, error) {
	return parseBytesAs(s, byteMi, byteMi)
}

// parseBytesAs parses a Spark byte string whose bare numbers are in
// defaultUnit and returns it in target units, truncating like Spark's
// ByteUnit.convertTo.
func parseBytesAs(s string, defaultUnit, target int64) (int64, error) {
	in := strings.ToLower(strings.TrimSpace(s))
	if in == "" {
		return 0, errors.New("empty size: expected a Spark size such as \"512m\" or \"4g\"")
	}
	if m := kubeMemory.FindStringSubmatch(in); m != nil {
		return 0, fmt.Errorf("'%s' is a Kubernetes quantity, not a Spark size: use \"%s%s\"", s, m[1], m[2])
	}
	if m := sparkFraction.FindStringSubmatch(in); m != nil {
		return 0, fmt.Errorf("'%s': fractional sizes are not supported by Spark, use a smaller unit (\"%s\")", s, fractionHint(m[1], m[2]))
	}
	m := sparkNumber.FindStringSubmatch(in)
	if m == nil {
		return 0, fmt.Errorf("'%s' is not a Spark size: expected a whole number with an optional unit (b, k, m, g, t, p), such as \"512m\" or \"4g\"", s)
	}
	unit := defaultUnit
	if m[2] != "" {
		u, ok := byteSuffixes[m[2]]
		if !ok {
			return 0, fmt.Errorf("'%s' has an unknown unit '%s': expected b, k, kb, m, mb, g, gb, t, tb, p or pb", s, m[2])
		}
		unit = u
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("'%s' is too large: %w", s, err)
	}
	if unit >= target {
		f := unit / target
		if n > math.MaxInt64/f {
			return 0, fmt.Errorf("'%s' is too large", s)
		}
		return n * f, nil
	}
	return n / (target / unit), nil
}

// fractionHint rewrites a fractional size into the next smaller unit.
func fractionHint(number, suffix string) string {
	f, err := strconv.ParseFloat(number, 64)
	if err != nil {
		return "512m"
	}
	smaller := map[string]string{"g": "m", "gb": "m", "t": "g", "tb": "g", "p": "t", "pb": "t", "m": "k", "mb": "k", "": "k", "k": "b", "kb": "b"}
	s, ok := smaller[suffix]
	if !ok {
		return "512m"
	}
	return strconv.FormatInt(int64(f*1024), 10) + s
}

// timeSuffixes are the suffixes Spark's JavaUtils accepts in time strings.
var timeSuffixes = map[string]time.Duration{
	"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second,
	"m": time.Minute, "min": time.Minute, "h": time.Hour, "d": 24 * time.Hour,
}

// ParseDuration parses Spark time strings ("60s", "15min", "1h", "500ms",
// "2d", a bare number in defaultUnit) and also Go durations ("1m30s",
// "1.5h"). Negative durations are an error: no Spark timeout means anything
// with one.
func ParseDuration(s string, defaultUnit time.Duration) (time.Duration, error) {
	in := strings.ToLower(strings.TrimSpace(s))
	if in == "" {
		return 0, errors.New("empty duration: expected a Spark time such as \"60s\" or \"15min\"")
	}
	if m := sparkTimeNumber.FindStringSubmatch(in); m != nil {
		unit := defaultUnit
		if m[2] != "" {
			u, ok := timeSuffixes[m[2]]
			if !ok {
				return parseGoDuration(s, in)
			}
			unit = u
		}
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("duration '%s' is too large: %w", s, err)
		}
		if n < 0 {
			return 0, fmt.Errorf("duration '%s' is negative", s)
		}
		if unit > 0 && n > int64(math.MaxInt64/unit) {
			return 0, fmt.Errorf("duration '%s' is too large", s)
		}
		return time.Duration(n) * unit, nil
	}
	return parseGoDuration(s, in)
}

func parseGoDuration(orig, in string) (time.Duration, error) {
	d, err := time.ParseDuration(in)
	if err != nil {
		return 0, fmt.Errorf("'%s' is not a duration: expected a Spark time such as \"60s\", \"15min\", \"500ms\", \"2d\" or a Go duration such as \"1m30s\"", orig)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration '%s' is negative", orig)
	}
	return d, nil
}

// FormatDuration renders a duration the way Spark reads it: whole seconds as
// "<n>s", otherwise "<n>ms" (and "<n>us" below a millisecond, so nothing is
// lost).
func FormatDuration(d time.Duration) string {
	switch {
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	case d%time.Millisecond == 0:
		return strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms"
	default:
		return strconv.FormatInt(int64(d/time.Microsecond), 10) + "us"
	}
}

// ParseCores parses a Kubernetes cpu quantity ("500m", "3400m", "2") as
// spark.kubernetes.*.request.cores and .limit.cores are read. It must be
// positive.
func ParseCores(s string) (resource.Quantity, error) {
	q, err := resource.ParseQuantity(strings.TrimSpace(s))
	if err != nil {
		return resource.Quantity{}, fmt.Errorf("'%s' is not a cpu quantity such as \"500m\", \"3400m\" or \"2\": %w", s, err)
	}
	if q.Sign() <= 0 {
		return resource.Quantity{}, fmt.Errorf("cpu quantity '%s' must be positive", s)
	}
	return q, nil
}

// parseBool reads a Spark boolean ("true"/"false", any case).
func parseBool(key, s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("'%s' must be true or false, found '%s'", key, s)
}

// parseInt32 reads a Spark int entry.
func parseInt32(key, s string) (int32, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("'%s' must be a whole number, found '%s'", key, s)
	}
	return int32(n), nil
}

// parseFloat reads a Spark double entry.
func parseFloat(key, s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("'%s' must be a number, found '%s'", key, s)
	}
	return f, nil
}

// ParseMemoryLimit parses a driver's or executor's memoryLimit as the Spark
// Operator's webhook does: a Spark byte string ("6g", "512m", "2gb") in
// binary units whatever their case ("6G" is 6Gi), else a Kubernetes quantity
// ("6Gi", "6442450944" bytes).
func ParseMemoryLimit(s string) (resource.Quantity, error) {
	in := strings.TrimSpace(s)
	if m := sparkNumber.FindStringSubmatch(strings.ToLower(in)); m != nil && m[2] != "" && m[2] != "b" {
		if unit, ok := byteSuffixes[m[2]]; ok {
			n, err := strconv.ParseInt(m[1], 10, 64)
			if err != nil || n > math.MaxInt64/unit {
				return resource.Quantity{}, fmt.Errorf("'%s' is too large", s)
			}
			return *resource.NewQuantity(n*unit, resource.BinarySI), nil
		}
	}
	q, err := resource.ParseQuantity(in)
	if err != nil {
		return resource.Quantity{}, fmt.Errorf("'%s' is no memory size: expected a Spark size such as '6g' or a Kubernetes quantity such as '6Gi'", s)
	}
	if q.Sign() <= 0 {
		return resource.Quantity{}, fmt.Errorf("'%s' must be more than 0", s)
	}
	return q, nil
}
