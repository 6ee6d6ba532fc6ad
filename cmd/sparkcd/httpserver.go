package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// httpServer serves a handler for as long as the manager runs, on every
// replica: it needs no leader.
type httpServer struct {
	name    string
	addr    string
	handler http.Handler
	log     *slog.Logger
}

var (
	_ manager.Runnable               = (*httpServer)(nil)
	_ manager.LeaderElectionRunnable = (*httpServer)(nil)
)

// NeedLeaderElection is false: webhooks are received by every replica and
// acted on by the leader.
func (s *httpServer) NeedLeaderElection() bool { return false }

// Start listens on addr and serves until ctx ends, then drains requests for
// up to ten seconds.
func (s *httpServer) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("unable to listen on '%s' for the %s server: %w", s.addr, s.name, err)
	}
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute}
	s.log.Info("serving", "server", s.name, "addr", ln.Addr().String())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("the %s server stopped: %w", s.name, err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("unable to stop the %s server: %w", s.name, err)
	}
	return nil
}
