package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
)

// apiError is an error with the HTTP status and gRPC code it is answered
// with.
type apiError struct {
	http int
	grpc codes.Code
	msg  string
}

func (e *apiError) Error() string { return e.msg }

func errorf(httpCode int, grpcCode codes.Code, format string, a ...any) error {
	return &apiError{httpCode, grpcCode, fmt.Sprintf(format, a...)}
}

// badRequest reports a malformed or unusable request.
func badRequest(format string, a ...any) error {
	return errorf(http.StatusBadRequest, codes.InvalidArgument, format, a...)
}

// notFound reports an unknown model.
func notFound(model string) error {
	return errorf(http.StatusNotFound, codes.NotFound, "unknown model %q", model)
}

var (
	errQueueFull = errorf(http.StatusTooManyRequests, codes.ResourceExhausted, "the model's queue is full: retry later")
	errClosing   = errorf(http.StatusServiceUnavailable, codes.Unavailable, "the server is shutting down")
	errNotReady  = errorf(http.StatusServiceUnavailable, codes.Unavailable, "the model is not ready")
	errTooLarge  = errorf(http.StatusRequestEntityTooLarge, codes.ResourceExhausted, "the request body is too large")
)

// classify returns err's apiError, mapping context errors to their codes
// and anything else to an internal error.
func classify(err error) *apiError {
	var e *apiError
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{http.StatusGatewayTimeout, codes.DeadlineExceeded, "the request's deadline passed"}
	case errors.Is(err, gpuexec.ErrDeviceLost):
		return &apiError{http.StatusServiceUnavailable, codes.Unavailable, err.Error()}
	case errors.Is(err, context.Canceled):
		return &apiError{499, codes.Canceled, "the client went away"} // 499: nginx's "client closed request"
	}
	return &apiError{http.StatusInternalServerError, codes.Internal, err.Error()}
}

// grpcError returns err as a gRPC status error.
func grpcError(err error) error {
	e := classify(err)
	return status.Error(e.grpc, e.msg)
}
