package materialize

import (
	"os"
	"testing"

	"github.com/sparkcd/sparkcd/internal/testenv"
)

// env is the package's control plane; only the tests that create rendered
// objects in a real API server start it.
var env = testenv.NewShared()

func TestMain(m *testing.M) { os.Exit(env.Run(m)) }
