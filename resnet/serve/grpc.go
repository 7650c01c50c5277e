package serve

import (
	"context"
	"time"

	"google.golang.org/grpc"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	pb "github.com/resnet-gpu/resnet-gpu/resnet/serve/inferencepb"
)

// RegisterGRPC registers inference.GRPCInferenceService, gRPC health
// checking (grpc.health.v1, SERVING while ready, for Kubernetes' gRPC
// probes) and server reflection (for generic clients such as grpcurl) on g.
func (s *Server) RegisterGRPC(g *grpc.Server) {
	pb.RegisterGRPCInferenceServiceServer(g, grpcService{s: s})
	healthgrpc.RegisterHealthServer(g, s.health)
	reflection.Register(g)
}

// grpcService implements the gRPC service on a Server.
type grpcService struct {
	pb.UnimplementedGRPCInferenceServiceServer
	s *Server
}

func (g grpcService) ServerLive(context.Context, *pb.ServerLiveRequest) (*pb.ServerLiveResponse, error) {
	return &pb.ServerLiveResponse{Live: true}, nil
}

func (g grpcService) ServerReady(context.Context, *pb.ServerReadyRequest) (*pb.ServerReadyResponse, error) {
	return &pb.ServerReadyResponse{Ready: g.s.Ready()}, nil
}

func (g grpcService) ModelReady(_ context.Context, r *pb.ModelReadyRequest) (*pb.ModelReadyResponse, error) {
	ok, err := g.s.modelReady(r.Name, r.Version)
	if err != nil {
		return nil, grpcError(err)
	}
	return &pb.ModelReadyResponse{Ready: ok}, nil
}

func (g grpcService) ServerMetadata(context.Context, *pb.ServerMetadataRequest) (*pb.ServerMetadataResponse, error) {
	return &pb.ServerMetadataResponse{Name: platform, Version: Version, Extensions: extensions}, nil
}

func (g grpcService) ModelMetadata(_ context.Context, r *pb.ModelMetadataRequest) (*pb.ModelMetadataResponse, error) {
	if r.Version != "" && r.Version != Version {
		return nil, grpcError(notFound(r.Name + " version " + r.Version))
	}
	md, err := g.s.metadata(r.Name)
	if err != nil {
		return nil, grpcError(err)
	}
	tensors := func(ts []tensorMeta) []*pb.ModelMetadataResponse_TensorMetadata {
		var out []*pb.ModelMetadataResponse_TensorMetadata
		for _, t := range ts {
			out = append(out, &pb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape})
		}
		return out
	}
	return &pb.ModelMetadataResponse{Name: md.Name, Versions: md.Versions, Platform: md.Platform,
		Inputs: tensors(md.Inputs), Outputs: tensors(md.Outputs)}, nil
}

// ModelInfer runs an inference. Outputs come back in raw_output_contents
// when the request's inputs came in raw_input_contents, else in each
// output's contents.
func (g grpcService) ModelInfer(ctx context.Context, r *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	start := time.Now()
	resp, err := func() (*response, error) {
		switch {
		case g.s.models[r.ModelName] == nil:
			return nil, notFound(r.ModelName)
		case r.ModelVersion != "" && r.ModelVersion != Version:
			return nil, notFound(r.ModelName + " version " + r.ModelVersion)
		}
		req, err := decodeGRPC(r)
		if err != nil {
			return nil, err
		}
		return g.s.infer(ctx, req)
	}()
	g.s.count(r.ModelName, "grpc", start, err)
	if err != nil {
		return nil, grpcError(err)
	}
	out := &pb.ModelInferResponse{ModelName: resp.model, ModelVersion: Version, Id: resp.id}
	raw := len(r.RawInputContents) > 0
	for _, t := range resp.outputs {
		o := &pb.ModelInferResponse_InferOutputTensor{Name: t.name, Datatype: t.datatype, Shape: t.shape}
		switch {
		case raw:
			out.RawOutputContents = append(out.RawOutputContents, t.encodeRaw())
		case t.datatype == fp32:
			o.Contents = &pb.InferTensorContents{Fp32Contents: t.f32}
		default:
			o.Contents = &pb.InferTensorContents{BytesContents: t.bytes}
		}
		out.Outputs = append(out.Outputs, o)
	}
	return out, nil
}

// decodeGRPC decodes a gRPC inference request.
func decodeGRPC(r *pb.ModelInferRequest) (*request, error) {
	if len(r.Inputs) != 1 {
		return nil, badRequest("%d inputs: want one (FP32 [N,3,H,W] or BYTES [N])", len(r.Inputs))
	}
	if len(r.RawInputContents) > 1 {
		return nil, badRequest("%d raw_input_contents for one input", len(r.RawInputContents))
	}
	req := &request{model: r.ModelName, id: r.Id}
	var err error
	if req.top, err = grpcInt(r.Parameters, "top"); err != nil {
		return nil, err
	}
	us, err := grpcInt(r.Parameters, "timeout")
	if err != nil {
		return nil, err
	}
	req.timeout = time.Duration(us) * time.Microsecond
	in := r.Inputs[0]
	t := tensor{name: in.Name, datatype: in.Datatype, shape: in.Shape}
	n, err := numel(t.shape, 1<<31)
	if err != nil {
		return nil, err
	}
	switch {
	case len(r.RawInputContents) == 1:
		if in.Contents != nil {
			return nil, badRequest("input %q: both contents and raw_input_contents", in.Name)
		}
		err = t.decodeRaw(r.RawInputContents[0], n)
	case in.Contents != nil:
		t.f32, t.bytes = in.Contents.Fp32Contents, in.Contents.BytesContents
	}
	if err != nil {
		return nil, err
	}
	req.input = t
	for _, o := range r.Outputs {
		w := wanted{name: o.Name}
		if w.top, err = grpcInt(o.Parameters, "classification"); err != nil {
			return nil, err
		}
		req.outputs = append(req.outputs, w)
	}
	return req, nil
}

// grpcInt returns an int64 parameter (0 when absent).
func grpcInt(p map[string]*pb.InferParameter, key string) (int, error) {
	v, ok := p[key]
	if !ok {
		return 0, nil
	}
	i, ok := v.ParameterChoice.(*pb.InferParameter_Int64Param)
	if !ok || i.Int64Param < 0 || i.Int64Param > 1<<40 {
		return 0, badRequest("parameter %q: want a non-negative int64_param", key)
	}
	return int(i.Int64Param), nil
}
