package gitsource

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestRedactURL(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "no userinfo", in: "https://example.com/jobs.git", want: "https://example.com/jobs.git"},
		{name: "user and password", in: "https://alice:s3cret@example.com/jobs.git", want: "https://***@example.com/jobs.git"},
		{name: "token as user", in: "https://ghp_token@example.com/jobs.git", want: "https://***@example.com/jobs.git"},
		{name: "plain http", in: "http://u:p@127.0.0.1:8080/x", want: "http://***@127.0.0.1:8080/x"},
		{name: "ssh user kept", in: "ssh://git@example.com/jobs.git", want: "ssh://git@example.com/jobs.git"},
		{name: "ssh user and password", in: "ssh://git:pw@example.com/jobs.git", want: "ssh://***@example.com/jobs.git"},
		{name: "inside a message", in: `Get "https://a:b@h/info/refs?service=git-upload-pack": EOF`,
			want: `Get "https://***@h/info/refs?service=git-upload-pack": EOF`},
		{name: "two urls", in: "https://a:b@h1/x and http://c:d@h2/y", want: "https://***@h1/x and http://***@h2/y"},
		{name: "at sign in the path", in: "https://h/a@b", want: "https://h/a@b"},
		{name: "not a url", in: "unable to fetch", want: "unable to fetch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redactURL(tt.in); got != tt.want {
				t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRedactKeepsTheCause(t *testing.T) {
	err := redact(fmt.Errorf("post https://u:hunter22@h/x with token tok-abcdef: %w", context.DeadlineExceeded), "hunter22", "tok-abcdef", "ab")
	if want := "post https://***@h/x with token ***: context deadline exceeded"; err.Error() != want {
		t.Errorf("message = %q, want %q", err.Error(), want)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Error("redacted error lost its cause")
	}
	if redact(nil) != nil {
		t.Error("redact(nil) != nil")
	}
}
