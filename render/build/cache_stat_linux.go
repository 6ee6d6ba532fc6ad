//go:build linux

package build

import (
	"os"
	"syscall"
)

// fingerprintOf adds the inode, device and change time to what os.FileInfo
// tells: a file replaced by another (git checkout, rename) or rewritten
// with its mtime restored still shows up as changed.
func fingerprintOf(fi os.FileInfo) fingerprint {
	fp := fingerprint{size: fi.Size(), mtime: fi.ModTime().UnixNano(), mode: fi.Mode()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		fp.ino, fp.dev = st.Ino, uint64(st.Dev)
		fp.ctime = st.Ctim.Sec*1e9 + st.Ctim.Nsec
	}
	return fp
}
