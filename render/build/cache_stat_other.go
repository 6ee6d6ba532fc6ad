//go:build !linux

package build

import "os"

// fingerprintOf is size, modification time and mode where the platform's
// stat is not read further; the change time then counts as the mtime.
func fingerprintOf(fi os.FileInfo) fingerprint {
	t := fi.ModTime().UnixNano()
	return fingerprint{size: fi.Size(), mtime: t, ctime: t, mode: fi.Mode()}
}
