package corpus

import (
	"os"
	"testing"

	"github.com/sparkcd/sparkcd/internal/testenv"
)

// env is the package's control plane, started by the first test that needs
// it: the check, render and comparison tests run without one.
var env = testenv.NewShared()

func TestMain(m *testing.M) { os.Exit(env.Run(m)) }
