package testenv

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// dirPrefix names the temporary directories of control planes.
const dirPrefix = "sparkcd-testenv-"

// pidFile, in a control plane's directory, holds the pid of the process that
// owns it, so a later start can remove what a killed test binary left.
const pidFile = "owner.pid"

// writeOwner records this process as the owner of dir.
func writeOwner(dir string) error {
	return os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(os.Getpid())), 0o600)
}

// removeStaleDirs removes the directories of control planes whose owner is
// gone. The kernel killed their processes with the owner (Pdeathsig); only
// the files stayed. Directories of live owners, such as another package's
// tests running in parallel, are left alone.
func removeStaleDirs() {
	entries, err := os.ReadDir(os.TempDir())
	if err != nil {
		return
	}
	for _, entry := range entries {
		if !entry.IsDir() || !strings.HasPrefix(entry.Name(), dirPrefix) {
			continue
		}
		dir := filepath.Join(os.TempDir(), entry.Name())
		data, err := os.ReadFile(filepath.Join(dir, pidFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 0 || processAlive(pid) {
			continue
		}
		_ = os.RemoveAll(dir)
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
