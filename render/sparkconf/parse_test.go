package sparkconf

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

func TestParseMemoryMiB(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int64
		wantErr string
	}{
		{name: "megabytes", in: "512m", want: 512},
		{name: "gigabytes", in: "4g", want: 4096},
		{name: "gigabytes long suffix", in: "4gb", want: 4096},
		{name: "upper case", in: "4G", want: 4096},
		{name: "terabytes", in: "1t", want: 1 << 20},
		{name: "petabytes", in: "1p", want: 1 << 30},
		{name: "kilobytes", in: "2048k", want: 2},
		{name: "kilobytes truncate", in: "1000k", want: 0},
		{name: "bytes", in: "1048576b", want: 1},
		{name: "bare number is MiB", in: "1024", want: 1024},
		{name: "spaces", in: " 2g ", want: 2048},
		{name: "kubernetes Gi", in: "4Gi", wantErr: `use "4g"`},
		{name: "kubernetes Mi", in: "512Mi", wantErr: `use "512m"`},
		{name: "fraction", in: "1.5g", wantErr: `"1536m"`},
		{name: "empty", in: "", wantErr: "empty size"},
		{name: "negative", in: "-1g", wantErr: "not a Spark size"},
		{name: "unknown unit", in: "4x", wantErr: "unknown unit"},
		{name: "overflow", in: "9999999999999p", wantErr: "too large"},
		{name: "too many digits", in: "99999999999999999999", wantErr: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMemoryMiB(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseMemoryMiB(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseMemoryMiB(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseMemoryMiB(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		unit    time.Duration
		want    time.Duration
		wantErr bool
	}{
		{name: "seconds", in: "60s", unit: time.Second, want: time.Minute},
		{name: "min", in: "15min", unit: time.Second, want: 15 * time.Minute},
		{name: "m is minutes", in: "2m", unit: time.Second, want: 2 * time.Minute},
		{name: "hours", in: "1h", unit: time.Second, want: time.Hour},
		{name: "millis", in: "500ms", unit: time.Second, want: 500 * time.Millisecond},
		{name: "micros", in: "250us", unit: time.Second, want: 250 * time.Microsecond},
		{name: "days", in: "2d", unit: time.Second, want: 48 * time.Hour},
		{name: "bare in seconds", in: "30", unit: time.Second, want: 30 * time.Second},
		{name: "bare in millis", in: "1500", unit: time.Millisecond, want: 1500 * time.Millisecond},
		{name: "upper case", in: "10S", unit: time.Second, want: 10 * time.Second},
		{name: "go duration", in: "1m30s", unit: time.Second, want: 90 * time.Second},
		{name: "go fractional", in: "1.5h", unit: time.Second, want: 90 * time.Minute},
		{name: "empty", in: "", unit: time.Second, wantErr: true},
		{name: "negative", in: "-5s", unit: time.Second, wantErr: true},
		{name: "negative go", in: "-1m30s", unit: time.Second, wantErr: true},
		{name: "garbage", in: "soon", unit: time.Second, wantErr: true},
		{name: "unknown unit", in: "3w", unit: time.Second, wantErr: true},
		{name: "overflow", in: "999999999999d", unit: time.Second, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDuration(tt.in, tt.unit)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseDuration(%q) = %v, want an error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDuration(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseDuration(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		name string
		in   time.Duration
		want string
	}{
		{name: "zero", in: 0, want: "0s"},
		{name: "seconds", in: 60 * time.Second, want: "60s"},
		{name: "hour", in: time.Hour, want: "3600s"},
		{name: "millis", in: 1500 * time.Millisecond, want: "1500ms"},
		{name: "micros", in: 1500 * time.Microsecond, want: "1500us"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FormatDuration(tt.in)
			if got != tt.want {
				t.Errorf("FormatDuration(%v) = %q, want %q", tt.in, got, tt.want)
			}
			back, err := ParseDuration(got, time.Second)
			if err != nil || back != tt.in {
				t.Errorf("ParseDuration(%q) = %v, %v; want %v", got, back, err, tt.in)
			}
		})
	}
}

func TestParseCores(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		wantMilli int64
		wantErr   bool
	}{
		{name: "millicores", in: "500m", wantMilli: 500},
		{name: "node allocatable", in: "3400m", wantMilli: 3400},
		{name: "whole", in: "2", wantMilli: 2000},
		{name: "decimal", in: "1.5", wantMilli: 1500},
		{name: "zero", in: "0", wantErr: true},
		{name: "negative", in: "-1", wantErr: true},
		{name: "garbage", in: "two", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCores(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseCores(%q) = %v, want an error", tt.in, got.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCores(%q): %v", tt.in, err)
			}
			if got.MilliValue() != tt.wantMilli {
				t.Errorf("ParseCores(%q) = %dm, want %dm", tt.in, got.MilliValue(), tt.wantMilli)
			}
		})
	}
}

func TestAtLeast(t *testing.T) {
	tests := []struct {
		version      string
		major, minor int
		want         bool
	}{
		{"", 3, 4, true},
		{"3.5.3", 3, 4, true},
		{"3.4.0", 3, 4, true},
		{"3.3.2", 3, 4, false},
		{"4.0.0-preview2", 3, 4, true},
		{"4.0.0-preview2", 4, 0, true},
		{"3.5", 4, 0, false},
		{"v3.1", 3, 4, false},
		{"latest", 3, 4, true},
		{"garbage", 3, 4, true},
		{"3.10", 3, 4, true},
		{"3.0.0-preview2", 3, 1, false},
		{"3.1-SNAPSHOT", 3, 1, true},
		{"3.5rc1", 3, 5, true},
		{"2.4.8", 3, 1, false},
		{"4", 3, 4, true},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			if got := AtLeast(tt.version, tt.major, tt.minor); got != tt.want {
				t.Errorf("AtLeast(%q, %d, %d) = %v, want %v", tt.version, tt.major, tt.minor, got, tt.want)
			}
		})
	}
}

func TestParseMemoryLimit(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "6g", want: "6Gi"},
		{in: "512m", want: "512Mi"},
		{in: "2GB", want: "2Gi"},
		{in: "6Gi", want: "6Gi"},
		// Spark reads sizes case-insensitively: "6G" is 6 GiB, not 6·10^9.
		{in: "6G", want: "6Gi"},
		{in: "1073741824", want: "1Gi"},
		{in: "lots", wantErr: true},
		{in: "0", wantErr: true},
		{in: "-1Gi", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			q, err := ParseMemoryLimit(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseMemoryLimit(%q) error = %v, want error %t", tt.in, err, tt.wantErr)
			}
			if err == nil && q.Cmp(resource.MustParse(tt.want)) != 0 {
				t.Errorf("ParseMemoryLimit(%q) = %s, want %s", tt.in, q.String(), tt.want)
			}
		})
	}
}
