package corpus

import (
	"os"
	"testing"

	"github.com/sparkcd/sparkcd/internal/testenv"
)

// env is the package's control plane, started by the first test that needs
// it: the check, render and comparison tests run without one. It has
// sparkcd's CRDs and the batch schedulers' (test/schedulers), so a run's
// PodGroup meets the schema its scheduler installs.
var env = testenv.NewShared(testenv.WithCRDPaths("../../deploy/crds", "../schedulers"))

func TestMain(m *testing.M) { os.Exit(env.Run(m)) }
