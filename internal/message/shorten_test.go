package message

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestShorten(t *testing.T) {
	tests := []struct {
		name string
		s    string
		n    int
		want string
	}{
		{name: "fits", s: "job 'a' is fine", n: 15, want: "job 'a' is fine"},
		{name: "no bound", s: "job 'a' is fine", n: 0, want: "job 'a' is fine"},
		{
			name: "whole words, never mid-word",
			s:    "sparkcd never restarts a finished driver and OnFailure would restart it",
			n:    50,
			want: "sparkcd never restarts a finished driver and …",
		},
		{
			name: "a clause end when it keeps most",
			s:    "spec.restartPolicy.type is 'Sometimes': expected Never, OnFailure or Always",
			n:    45,
			want: "spec.restartPolicy.type is 'Sometimes' …",
		},
		{
			name: "the bracket and the quote stay closed",
			s:    "job 'spark/pi' is also defined in 'base/job.yaml' (built from 'overlays/prod-eu-west')",
			n:    76,
			want: "job 'spark/pi' is also defined in 'base/job.yaml' (built from …)",
		},
		{
			name: "cut inside a quote",
			s:    "revision main@sha1:0123 rejected: 'a very long quoted name that goes on and on'",
			n:    60,
			want: "revision main@sha1:0123 rejected: 'a very long quoted …'",
		},
		{
			name: "an apostrophe is not a quote",
			s:    "the job's driver could not start because the image is missing",
			n:    40,
			want: "the job's driver could not start …",
		},
		{
			name: "one long word",
			s:    "/a/very/long/path/without/any/spaces/in/it",
			n:    12,
			want: "/a/very/lon…",
		},
		{
			name: "multibyte characters",
			s:    "größe überschreitet die grenze für diesen job",
			n:    21,
			want: "größe überschreitet …",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Shorten(tt.s, tt.n)
			if got != tt.want {
				t.Errorf("Shorten(%q, %d)\n got %q\nwant %q", tt.s, tt.n, got, tt.want)
			}
			if tt.n > 0 && utf8.RuneCountInString(got) > tt.n {
				t.Errorf("%q has %d characters, more than %d", got, utf8.RuneCountInString(got), tt.n)
			}
		})
	}
}

// TestBound: a byte bound never splits a character and keeps brackets
// and quotes balanced, whatever the length.
func TestBound(t *testing.T) {
	s := "job 'spark/pi' is also defined in 'base/jöb.yaml' (built from 'overlays/prod'); " + strings.Repeat("ünd more words, ", 40)
	for n := 1; n <= len(s)+1; n++ {
		got := Bound(s, n)
		if len(got) > n && got != Ellipsis {
			t.Fatalf("Bound(s, %d) = %q: %d bytes", n, got, len(got))
		}
		if !utf8.ValidString(got) {
			t.Fatalf("Bound(s, %d) = %q: not valid UTF-8", n, got)
		}
		if strings.Count(got, "(") != strings.Count(got, ")") {
			t.Fatalf("Bound(s, %d) = %q: brackets not balanced", n, got)
		}
		if n < len(s) && !strings.Contains(got, Ellipsis) {
			t.Fatalf("Bound(s, %d) = %q: no %q", n, got, Ellipsis)
		}
	}
}

// BenchmarkShortenLong: a 4096-byte condition message in a 60-character
// status column.
func BenchmarkShortenLong(b *testing.B) {
	s := strings.Repeat("a word, (another) 'quoted' ", 160)
	for b.Loop() {
		Shorten(s, 60)
	}
}
