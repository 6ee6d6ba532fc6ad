package gitsource

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"
)

// storageErrnos are the errors of a filesystem that refuses the cache's
// writes, by their C names: read-only, full, over quota, not permitted, a
// file over the size limit, failing hardware. A fetch that meets one will
// fail the same way until an operator acts, which the caller should say
// rather than blame git.
var storageErrnos = map[syscall.Errno]string{
	syscall.EROFS:  "EROFS",
	syscall.ENOSPC: "ENOSPC",
	syscall.EDQUOT: "EDQUOT",
	syscall.EACCES: "EACCES",
	syscall.EPERM:  "EPERM",
	syscall.EFBIG:  "EFBIG",
	syscall.EIO:    "EIO",
}

// storageError wraps err with ErrCacheUnwritable, naming the cache
// directory and the errno, when err comes from the filesystem refusing a
// write; any other error comes back as it is. The first failing operation
// (open, write, rename of which file) stays at the end of the message.
func (c *Client) storageError(err error) error {
	var errno syscall.Errno
	if err == nil || errors.Is(err, ErrCacheUnwritable) || !onFile(err) || !errors.As(err, &errno) {
		return err
	}
	name, ok := storageErrnos[errno]
	if !ok {
		return err
	}
	return fmt.Errorf("%w: directory '%s': %s (%s): %w", ErrCacheUnwritable, c.dir, errno.Error(), name, err)
}

// onFile reports whether err is a file operation's: a connection refused
// by a firewall or a security module carries EACCES or EPERM too, and is
// no fault of the cache.
func onFile(err error) bool {
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return false
	}
	var pathErr *fs.PathError
	var linkErr *os.LinkError
	return errors.As(err, &pathErr) || errors.As(err, &linkErr)
}
