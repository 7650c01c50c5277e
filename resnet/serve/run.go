package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// Server timeouts: a client must send its headers and its body (or finish
// the gRPC handshake) in time, no slowloris, and idle connections are
// closed.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 60 * time.Second
	idleTimeout       = 120 * time.Second
)

// drainTimeout bounds how long Run waits for admitted requests after ctx
// is cancelled.
const drainTimeout = 30 * time.Second

// Run serves REST on httpAddr and gRPC on grpcAddr (either "" for none),
// warms the models while liveness already answers, and serves until ctx is
// cancelled (SIGTERM) or a device is lost. On cancellation it stops
// accepting, answers every admitted request and returns nil; a lost device
// returns its error, so the process exits non-zero and is restarted.
func (s *Server) Run(ctx context.Context, httpAddr, grpcAddr string) error {
	var hl, gl net.Listener
	var err error
	if httpAddr != "" {
		if hl, err = net.Listen("tcp", httpAddr); err != nil {
			return fmt.Errorf("serve: %w", err)
		}
	}
	if grpcAddr != "" {
		if gl, err = net.Listen("tcp", grpcAddr); err != nil {
			if hl != nil {
				hl.Close()
			}
			return fmt.Errorf("serve: %w", err)
		}
	}
	return s.Serve(ctx, hl, gl)
}

// Serve is Run on listeners of the caller's (either nil for none), which
// it closes.
func (s *Server) Serve(ctx context.Context, hl, gl net.Listener) error {
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
		IdleTimeout: idleTimeout, MaxHeaderBytes: 1 << 20}
	gs := grpc.NewServer(grpc.MaxRecvMsgSize(int(min(s.opt.MaxBody, 1<<31-1))), grpc.MaxSendMsgSize(1<<31-1),
		grpc.ConnectionTimeout(readHeaderTimeout), grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: idleTimeout}))
	s.RegisterGRPC(gs)
	failed := make(chan error, 2)
	if hl != nil {
		s.opt.Logger.Info("serving REST", "addr", hl.Addr().String())
		go func() {
			if err := hs.Serve(hl); !errors.Is(err, http.ErrServerClosed) {
				failed <- fmt.Errorf("serve: REST: %w", err)
			}
		}()
	}
	if gl != nil {
		s.opt.Logger.Info("serving gRPC", "addr", gl.Addr().String())
		go func() {
			if err := gs.Serve(gl); err != nil {
				failed <- fmt.Errorf("serve: gRPC: %w", err)
			}
		}()
	}
	stop := func() {
		hs.Close()
		gs.Stop()
	}
	warmed := make(chan error, 1)
	go func() { warmed <- s.Warm(ctx) }()
	for {
		select {
		case err := <-warmed:
			if err != nil && ctx.Err() == nil {
				stop()
				return err
			}
			warmed = nil
			if err == nil {
				s.opt.Logger.Info("ready")
			}
		case err := <-failed:
			stop()
			return err
		case err := <-s.Lost():
			stop()
			return fmt.Errorf("serve: %w", err)
		case <-ctx.Done():
			s.opt.Logger.Info("shutting down: draining admitted requests")
			drain, cancel := context.WithTimeout(context.Background(), drainTimeout)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- s.Shutdown(drain) }()
			go gs.GracefulStop()
			herr := hs.Shutdown(drain)
			err := <-done
			gs.Stop() // after GracefulStop's wait, or to end it once drained
			if err == nil {
				err = herr
			}
			if err != nil {
				return fmt.Errorf("serve: draining: %w", err)
			}
			s.opt.Logger.Info("stopped")
			return nil
		}
	}
}
