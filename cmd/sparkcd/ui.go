package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/ui"
)

// uiFlags are the settings of `sparkcd ui`.
type uiFlags struct {
	cluster       clusterFlags
	log           logFlags
	address       string
	port          int
	allNamespaces bool
	acceptHosts   []string
	logLines      int64
}

func newUICommand() *cobra.Command {
	var f uiFlags
	cmd := &cobra.Command{
		Use:   "ui",
		Short: "Serve a local, read-only web view of JobSources, SparkJobs and their runs",
		Long: `ui serves a web view on 127.0.0.1 (like kubectl proxy) over your own
kubeconfig: the JobSources with their revision and findings, the SparkJobs
with their schedule, next tick, verdict and a grid of their last runs
coloured by phase, and a page per run with its phases, executor timeline,
reserved core- and GiB-seconds, driver log tail and Spark UI link. Pages
update live as the SparkJobs change. It only reads (get, list, watch), with
your own permissions; see docs/ui.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.run(cmd) },
	}
	f.cluster.bind(cmd, true)
	f.log.bind(cmd)
	cmd.Flags().Lookup("log-format").DefValue = "text"
	_ = cmd.Flags().Set("log-format", "text")
	cmd.Flags().StringVar(&f.address, "address", "127.0.0.1", "IP address to serve on; anything but loopback exposes the view to your network")
	cmd.Flags().IntVar(&f.port, "port", 8484, "port to serve on (0 picks a free one)")
	cmd.Flags().BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, "show every namespace you may list")
	cmd.Flags().StringSliceVar(&f.acceptHosts, "accept-hosts", ui.DefaultAcceptHosts, "regular expressions of the Host headers to serve (DNS-rebinding protection, as kubectl proxy)")
	cmd.Flags().Int64Var(&f.logLines, "log-lines", 100, "lines of the driver log a run page shows")
	return cmd
}

func (f *uiFlags) run(cmd *cobra.Command) error {
	log, _, err := f.log.logger(cmd)
	if err != nil {
		return err
	}
	cfg, err := f.cluster.restConfig()
	if err != nil {
		return err
	}
	ns := f.cluster.targetNamespace()
	if f.allNamespaces {
		ns = ""
	}
	srv, err := newUIServer(cfg, log, ns, f.acceptHosts, f.logLines)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(f.address, strconv.Itoa(f.port)))
	if err != nil {
		return inputError(fmt.Errorf("unable to listen on --address %s --port %d: %w", f.address, f.port, err))
	}
	fmt.Fprintf(cmd.OutOrStdout(), "sparkcd ui: serving on http://%s/ (read-only; Ctrl-C stops it)\n", ln.Addr())
	return serveUI(cmd.Context(), srv, ln)
}

// newUIServer builds the view over cfg: a client that gets, lists and
// watches, and the pods/log reader.
func newUIServer(cfg *rest.Config, log *slog.Logger, namespace string, hosts []string, logLines int64) (*ui.Server, error) {
	scheme, err := v1alpha1.NewScheme()
	if err != nil {
		return nil, err
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("unable to create a client: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("unable to create a client: %w", err)
	}
	srv, err := ui.New(c, ui.PodLogs{Clientset: cs}, ui.WithNamespace(namespace), ui.WithLogger(log),
		ui.WithAcceptHosts(hosts), ui.WithLogLines(logLines), ui.WithMessageCleaner(cleanMessage))
	if err != nil {
		return nil, inputError(err)
	}
	return srv, nil
}

// serveUI serves the view on ln and runs its watches until ctx ends.
func serveUI(ctx context.Context, srv *ui.Server, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = srv.Watch(ctx) }()
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("the ui server stopped: %w", err)
	case <-ctx.Done():
	}
	shutdown, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	if err := hs.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("unable to stop the ui server: %w", err)
	}
	return nil
}

// uiRunnable serves the view inside `sparkcd serve` (--ui-addr) on every
// replica, with sparkcd's own service account.
type uiRunnable struct {
	addr string
	srv  *ui.Server
}

var (
	_ manager.Runnable               = (*uiRunnable)(nil)
	_ manager.LeaderElectionRunnable = (*uiRunnable)(nil)
)

// NeedLeaderElection is false: the view only reads.
func (u *uiRunnable) NeedLeaderElection() bool { return false }

// Start serves until ctx ends.
func (u *uiRunnable) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", u.addr)
	if err != nil {
		return fmt.Errorf("unable to listen on '%s' for the ui server: %w", u.addr, err)
	}
	return serveUI(ctx, u.srv, ln)
}

// addUI adds the web view to serve's manager when --ui-addr is set.
func (f *serveFlags) addUI(mgr manager.Manager, log *slog.Logger) error {
	if f.uiAddr == "" {
		return nil
	}
	ns := "" // every namespace, unless serve acts in one only
	if len(f.namespaces) == 1 {
		ns = f.namespaces[0]
	}
	srv, err := newUIServer(mgr.GetConfig(), log.With("server", "ui"), ns, f.uiAcceptHosts, 100)
	if err != nil {
		return err
	}
	if err := mgr.Add(&uiRunnable{addr: f.uiAddr, srv: srv}); err != nil {
		return fmt.Errorf("unable to add the web view: %w", err)
	}
	return nil
}
