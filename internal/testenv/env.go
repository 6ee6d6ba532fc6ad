package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// DefaultVersion names the pinned control plane that hack/build-testenv.sh
// builds; it is the last element of the default cache directory.
const DefaultVersion = "v1.36.3-etcdv3.6.8"

// DirEnv is the environment variable that overrides the binaries' directory.
const DirEnv = "SPARKCD_TESTENV_DIR"

// ErrBinariesMissing is returned when a control-plane binary is not in the
// cache directory; `make testenv` builds them.
var ErrBinariesMissing = errors.New("control-plane binaries missing")

// startTimeout bounds the start of the whole control plane. A loaded
// two-core machine needs about ten seconds.
const startTimeout = 2 * time.Minute

// Env is a running control plane. Its fields are set once it is ready and
// never change.
type Env struct {
	// Config is an administrator's (system:masters) rest.Config.
	Config *rest.Config
	// Client is a controller-runtime client over Scheme, without a cache.
	Client client.Client
	// Clientset is a typed client-go clientset.
	Clientset *kubernetes.Clientset
	// Scheme knows the built-in types, the CRD types and sparkcd's types.
	Scheme *runtime.Scheme
	// Kubeconfig is the path of an administrator's kubeconfig.
	Kubeconfig string
	// BinaryDir is where the control-plane binaries come from.
	BinaryDir string

	opts  options
	dir   string
	pki   *pki
	procs []*process
	// stops end what runs in the test process itself (Kueue's proxy),
	// after the processes.
	stops []func() error
}

// Option configures a control plane.
type Option func(*options)

type options struct {
	binaryDir         string
	crdPaths          []string
	controllerManager bool
	controllers       []string
	logDir            string
	kwokConfig        string
	kueue             bool
}

// WithControllerManager also starts kube-controller-manager, running only
// the garbage collector and the namespace controller.
func WithControllerManager() Option {
	return func(o *options) { o.controllerManager = true }
}

// WithControllers also starts kube-controller-manager, running only the
// named controllers (as its --controllers flag names them), such as
// "clusterrole-aggregation-controller", which fills the aggregated
// ClusterRoles (view, edit, admin) from the labelled ones.
func WithControllers(names ...string) Option {
	return func(o *options) { o.controllerManager, o.controllers = true, names }
}

// WithBinaryDir takes the binaries from dir instead of $SPARKCD_TESTENV_DIR
// or the default cache directory.
func WithBinaryDir(dir string) Option {
	return func(o *options) { o.binaryDir = dir }
}

// WithCRDPaths installs the CRDs found in paths (files or directories)
// instead of the repository's deploy/crds.
func WithCRDPaths(paths ...string) Option {
	return func(o *options) { o.crdPaths = paths }
}

// WithLogDir writes the components' logs into dir and keeps them after
// Stop; by default they go to the environment's temporary directory and
// are removed with it.
func WithLogDir(dir string) Option {
	return func(o *options) { o.logDir = dir }
}

// DefaultBinaryDir is $SPARKCD_TESTENV_DIR, or
// ~/.cache/sparkcd/testenv/DefaultVersion.
func DefaultBinaryDir() string {
	if dir := os.Getenv(DirEnv); dir != "" {
		return dir
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, ".cache", "sparkcd", "testenv", DefaultVersion)
}

// StartProcess starts a control plane that lives until Stop, for demos
// and for TestMain. ctx bounds the start only.
func StartProcess(ctx context.Context, opts ...Option) (*Env, error) {
	e := &Env{}
	for _, o := range opts {
		o(&e.opts)
	}
	if err := e.start(ctx); err != nil {
		_ = e.Stop()
		return nil, err
	}
	return e, nil
}

// Start starts a control plane for one test and stops it when the test
// ends. A test whose binaries are missing fails with instructions.
func Start(t testing.TB, opts ...Option) *Env {
	t.Helper()
	e, err := StartProcess(context.Background(), opts...)
	if err != nil {
		t.Fatalf("unable to start the test control plane: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Errorf("unable to stop the test control plane: %v", err)
		}
	})
	return e
}

func (e *Env) start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()

	e.BinaryDir = e.opts.binaryDir
	if e.BinaryDir == "" {
		e.BinaryDir = DefaultBinaryDir()
	}
	if err := e.checkBinaries(); err != nil {
		return err
	}
	crdPaths := e.opts.crdPaths
	if len(crdPaths) == 0 {
		root, err := repoRoot()
		if err != nil {
			return err
		}
		crdPaths = []string{filepath.Join(root, "deploy", "crds")}
	}

	removeStaleDirs()
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return fmt.Errorf("unable to create the control plane's directory: %w", err)
	}
	e.dir = dir
	if err := writeOwner(dir); err != nil {
		return fmt.Errorf("unable to write the control plane's owner: %w", err)
	}
	if e.pki, err = newPKI(dir); err != nil {
		return err
	}
	etcdURL, err := e.startEtcd(ctx)
	if err != nil {
		return err
	}
	cfg, err := e.startAPIServer(ctx, etcdURL)
	if err != nil {
		return err
	}
	if err := e.setClients(cfg); err != nil {
		return err
	}
	if err := e.writeKubeconfig(cfg); err != nil {
		return err
	}
	if _, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{
		Paths:              crdPaths,
		ErrorIfPathMissing: true,
		Scheme:             e.Scheme,
		MaxTime:            time.Until(deadline(ctx)),
	}); err != nil {
		return fmt.Errorf("unable to install the CRDs from %q: %w", crdPaths, err)
	}
	// The garbage collector watches the resources it discovers at start:
	// start it after the CRDs so SparkJobs are owners it follows.
	if e.opts.controllerManager {
		if err := e.startControllerManager(ctx); err != nil {
			return err
		}
	}
	if e.opts.kueue {
		if err := e.startKueue(ctx); err != nil {
			return err
		}
	}
	if e.opts.kwokConfig != "" {
		if err := e.startKWOK(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (e *Env) setClients(cfg *rest.Config) error {
	e.Config = cfg
	e.Scheme = runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(e.Scheme); err != nil {
			return fmt.Errorf("unable to build the scheme: %w", err)
		}
	}
	var err error
	if e.Client, err = client.New(cfg, client.Options{Scheme: e.Scheme}); err != nil {
		return fmt.Errorf("unable to build a client: %w", err)
	}
	if e.Clientset, err = kubernetes.NewForConfig(cfg); err != nil {
		return fmt.Errorf("unable to build a clientset: %w", err)
	}
	return nil
}

// Stop ends every process of the control plane and removes its directory.
// It is safe to call twice.
func (e *Env) Stop() error {
	var errs []error
	// Reverse order: the controller manager and the apiserver go before
	// the etcd they depend on.
	for i := len(e.procs) - 1; i >= 0; i-- {
		if err := e.procs[i].stop(5 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	e.procs = nil
	for _, stop := range e.stops {
		if err := stop(); err != nil {
			errs = append(errs, err)
		}
	}
	e.stops = nil
	if e.dir != "" {
		if err := os.RemoveAll(e.dir); err != nil {
			errs = append(errs, fmt.Errorf("unable to remove '%s': %w", e.dir, err))
		}
		e.dir = ""
	}
	return errors.Join(errs...)
}

// Kubectl returns a kubectl command from the binaries' directory that talks
// to this control plane as the administrator.
func (e *Env) Kubectl(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, e.binary("kubectl"), append([]string{"--kubeconfig=" + e.Kubeconfig}, args...)...)
}

// ControllerManagerRunning reports whether kube-controller-manager was
// started and is still running.
func (e *Env) ControllerManagerRunning() bool {
	for _, p := range e.procs {
		if p.name == "kube-controller-manager" {
			return !p.exited()
		}
	}
	return false
}

func (e *Env) checkBinaries() error {
	names := []string{"etcd", "kube-apiserver"}
	if e.opts.controllerManager {
		names = append(names, "kube-controller-manager")
	}
	if e.opts.kwokConfig != "" {
		names = append(names, "kube-scheduler", "kwok")
	}
	var missing []string
	for _, n := range names {
		if fi, err := os.Stat(e.binary(n)); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %q not in '%s': run 'make testenv' (and 'make kwok' for kwok), or set %s", ErrBinariesMissing, missing, e.BinaryDir, DirEnv)
	}
	if e.opts.kueue {
		return checkKueue()
	}
	return nil
}

func (e *Env) binary(name string) string { return filepath.Join(e.BinaryDir, name) }

func (e *Env) logPath(component string) string {
	dir := e.opts.logDir
	if dir == "" {
		dir = e.dir
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		dir = e.dir
	}
	return filepath.Join(dir, component+".log")
}

// repoRoot walks up from the working directory to the directory holding
// go.mod; tests run in their package's directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("unable to find the repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("unable to find the repository root: no go.mod above the working directory; use WithCRDPaths")
		}
		dir = parent
	}
}

func deadline(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(startTimeout)
}
