package faults_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/sparkcd/sparkcd/internal/testenv"
)

// env is the suite's control plane, with the garbage collector: a run's
// dependents are owned by its driver pod, and the cleanup relies on the
// cascade.
var env = testenv.NewShared(testenv.WithControllerManager())

// seedEnv fixes the seed of every random choice of the suite.
const seedEnv = "SPARKCD_FAULTS_SEED"

func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	code := env.Run(m)
	totals.print()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// waitTimeout bounds each wait for sparkcd to converge after a fault. A
// loaded two-core machine converges in seconds; the bound only turns a
// hang into a failure that says what was missing.
const waitTimeout = 2 * time.Minute

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// sparkcdBinary builds cmd/sparkcd once for the whole suite and returns
// its path: the cases run `sparkcd serve` as a process of its own, so a
// SIGKILL kills sparkcd and nothing else.
func sparkcdBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := filepath.Abs("../..")
		if err != nil {
			buildErr = err
			return
		}
		if binDir, err = os.MkdirTemp("", "sparkcd-faults-"); err != nil {
			buildErr = err
			return
		}
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		binPath = filepath.Join(binDir, "sparkcd")
		cmd := exec.Command(goBin, "build", "-o", binPath, "./cmd/sparkcd")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/sparkcd in '%s': %w\n%s", root, err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("the fault suite runs sparkcd as a process and could not build it (a Go toolchain must be on PATH): %v", buildErr)
	}
	return binPath
}

// seed returns the suite's seed for one case, from SPARKCD_FAULTS_SEED or
// the time, and logs it so a failing sequence of faults can be replayed.
func seed(t testing.TB) uint64 {
	t.Helper()
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv(seedEnv); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q is not an unsigned integer", seedEnv, v)
		}
		s = n
	}
	t.Logf("seed %d (replay with %s=%d)", s, seedEnv, s)
	return s
}

// newRand returns the case's random source.
func newRand(t testing.TB) *rand.Rand {
	s := seed(t)
	return rand.New(rand.NewPCG(s, s^0x5eed))
}
