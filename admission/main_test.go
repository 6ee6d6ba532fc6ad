package admission

import (
	"os"
	"testing"

	"github.com/sparkcd/sparkcd/internal/testenv"
)

// env is the package's control plane, started only by the test that
// compares Pod Security verdicts with the API server's.
var env = testenv.NewShared()

func TestMain(m *testing.M) { os.Exit(env.Run(m)) }
