package testenv

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
)

// Shared is one control plane for a whole test package, started by the
// first test that asks for it, so `go test -run` selecting no test that
// needs it costs nothing:
//
//	var env = testenv.NewShared(testenv.WithControllerManager())
//
//	func TestMain(m *testing.M) { os.Exit(env.Run(m)) }
//
//	func TestX(t *testing.T) { e := env.Env(t); ns := e.Namespace(t); … }
type Shared struct {
	opts []Option
	once sync.Once
	env  *Env
	err  error
}

// NewShared returns a control plane that starts on first use.
func NewShared(opts ...Option) *Shared {
	return &Shared{opts: opts}
}

// Env returns the running control plane, starting it on the first call. A
// test fails when it cannot start, every later test with the same message.
func (s *Shared) Env(t testing.TB) *Env {
	t.Helper()
	s.once.Do(func() {
		s.env, s.err = StartProcess(context.Background(), s.opts...)
	})
	if s.err != nil {
		t.Fatalf("unable to start the test control plane: %v", s.err)
	}
	return s.env
}

// Run runs the package's tests and then stops the control plane if one
// was started; its result is the exit code for os.Exit.
func (s *Shared) Run(m *testing.M) int {
	code := m.Run()
	if s.env != nil {
		if err := s.env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}
