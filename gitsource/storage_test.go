package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestStorageError: an error of the filesystem refusing a write, however
// deeply wrapped (go-git's pack writer, the redaction of a fetch error),
// becomes ErrCacheUnwritable naming the cache directory and the errno;
// network and git errors stay as they are.
func TestStorageError(t *testing.T) {
	c := &Client{dir: "/var/cache/sparkcd/ns/jobs/uid"}
	tests := []struct {
		name string
		err  error
		// want is a phrase of the message, "" when err must come back
		// unchanged.
		want string
	}{
		{name: "read-only filesystem", err: &fs.PathError{Op: "open", Path: c.dir + "/source", Err: syscall.EROFS},
			want: "the git cache cannot be written: directory '/var/cache/sparkcd/ns/jobs/uid': read-only file system (EROFS): open /var/cache/sparkcd/ns/jobs/uid/source: read-only file system"},
		{name: "full, in a redacted fetch error", err: redact(fmt.Errorf("unable to fetch: %w", &fs.PathError{Op: "write", Path: "tmp_pack_1", Err: syscall.ENOSPC})),
			want: "no space left on device (ENOSPC): unable to fetch: write tmp_pack_1: no space left on device"},
		{name: "over quota", err: &os.LinkError{Op: "rename", Old: "a", New: "b", Err: syscall.EDQUOT}, want: "(EDQUOT)"},
		{name: "not writable by this user", err: fmt.Errorf("unable to write: %w", &fs.PathError{Op: "open", Path: "source", Err: syscall.EACCES}),
			want: "permission denied (EACCES)"},
		{name: "connection refused", err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}},
		{name: "connect refused by a firewall (EACCES)", err: fmt.Errorf("unable to fetch: %w",
			&net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.EACCES}})},
		{name: "connect dropped by a filter (EPERM)", err: &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.EPERM}}},
		{name: "an errno of no file", err: &os.SyscallError{Syscall: "setsockopt", Err: syscall.EPERM}},
		{name: "not a storage error", err: ErrReferenceNotFound},
		{name: "a deadline", err: context.DeadlineExceeded},
		{name: "no error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.storageError(tt.err)
			if tt.want == "" {
				if got != tt.err {
					t.Fatalf("got %v, want the error unchanged: %v", got, tt.err)
				}
				return
			}
			if !errors.Is(got, ErrCacheUnwritable) || !errors.Is(got, tt.err) {
				t.Errorf("%v does not wrap both ErrCacheUnwritable and the cause", got)
			}
			if !strings.Contains(got.Error(), tt.want) {
				t.Errorf("message %q, want it to contain %q", got, tt.want)
			}
			if again := c.storageError(got); again != got {
				t.Errorf("wrapped twice: %v", again)
			}
		})
	}
}
