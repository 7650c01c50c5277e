package serve

import (
	"context"
	"encoding/binary"
	"math"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	pb "github.com/resnet-gpu/resnet-gpu/resnet/serve/inferencepb"
)

// The gRPC health and metadata methods answer as REST's endpoints do.
func TestGRPCHealthAndMetadata(t *testing.T) {
	f := newFixture(t, Options{MaxBatch: 4})
	ctx := context.Background()
	if r, err := f.grpc.ServerLive(ctx, &pb.ServerLiveRequest{}); err != nil || !r.Live {
		t.Errorf("ServerLive: %v %v", r, err)
	}
	if r, err := f.grpc.ServerReady(ctx, &pb.ServerReadyRequest{}); err != nil || !r.Ready {
		t.Errorf("ServerReady: %v %v", r, err)
	}
	for _, svc := range []string{"", "inference.GRPCInferenceService"} {
		r, err := healthpb.NewHealthClient(f.conn).Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("grpc.health.v1 Check(%q): %v %v, want SERVING", svc, r, err)
		}
	}
	if r, err := f.grpc.ModelReady(ctx, &pb.ModelReadyRequest{Name: "tiny"}); err != nil || !r.Ready {
		t.Errorf("ModelReady: %v %v", r, err)
	}
	if r, err := f.grpc.ServerMetadata(ctx, &pb.ServerMetadataRequest{}); err != nil || r.Name != "resnet-gpu" || !slices.Contains(r.Extensions, "classification") {
		t.Errorf("ServerMetadata: %v %v", r, err)
	}
	md, err := f.grpc.ModelMetadata(ctx, &pb.ModelMetadataRequest{Name: "tiny"})
	if err != nil || md.Name != "tiny" || len(md.Inputs) != 2 || !slices.Equal(md.Inputs[0].Shape, []int64{-1, 3, tinyCrop, tinyCrop}) ||
		len(md.Outputs) != 3 || md.Outputs[2].Name != "classes" || md.Outputs[2].Datatype != "BYTES" {
		t.Errorf("ModelMetadata: %v %v", md, err)
	}
	for _, call := range []func() error{
		func() error { _, err := f.grpc.ModelReady(ctx, &pb.ModelReadyRequest{Name: "nope"}); return err },
		func() error { _, err := f.grpc.ModelMetadata(ctx, &pb.ModelMetadataRequest{Name: "nope"}); return err },
		func() error {
			_, err := f.grpc.ModelMetadata(ctx, &pb.ModelMetadataRequest{Name: "tiny", Version: "7"})
			return err
		},
		func() error { _, err := f.grpc.ModelInfer(ctx, &pb.ModelInferRequest{ModelName: "nope"}); return err },
	} {
		if err := call(); status.Code(err) != codes.NotFound {
			t.Errorf("an unknown model: %v, want NotFound", err)
		}
	}
}

// ModelInfer with typed contents (FP32 tensors, BYTES images) and with raw
// contents gives Forward's and Classify's results.
func TestGRPCInfer(t *testing.T) {
	f := newFixture(t, Options{MaxBatch: 4})
	enc, imgs := testImages(t)
	in, logits, probs, top := want(t, f.m, imgs[:2], 3)
	ctx := context.Background()
	check := func(what string, r *pb.ModelInferResponse, raw bool) {
		t.Helper()
		if r.ModelName != "tiny" || r.Id != "g1" || len(r.Outputs) != 3 || raw != (len(r.RawOutputContents) == 3) {
			t.Fatalf("%s: response %v", what, r)
		}
		for i, o := range r.Outputs {
			var f32 []float32
			var bs [][]byte
			if raw {
				b := r.RawOutputContents[i]
				if o.Datatype == "FP32" {
					for j := 0; j+4 <= len(b); j += 4 {
						f32 = append(f32, math.Float32frombits(binary.LittleEndian.Uint32(b[j:])))
					}
				} else {
					for len(b) >= 4 {
						l := binary.LittleEndian.Uint32(b)
						bs, b = append(bs, b[4:4+l]), b[4+l:]
					}
				}
			} else if o.Contents != nil {
				f32, bs = o.Contents.Fp32Contents, o.Contents.BytesContents
			}
			switch o.Name {
			case "logits":
				if !slices.Equal(f32, flatten(logits)) || !slices.Equal(o.Shape, []int64{2, 3}) {
					t.Errorf("%s: logits %v %v, want %v", what, o.Shape, f32, flatten(logits))
				}
			case "probs":
				if !slices.Equal(f32, flatten(probs)) {
					t.Errorf("%s: probs %v, want %v", what, f32, flatten(probs))
				}
			case "classes":
				var got []string
				for _, b := range bs {
					got = append(got, string(b))
				}
				if !slices.Equal(got, classes(top)) || !slices.Equal(o.Shape, []int64{2, 3}) {
					t.Errorf("%s: classes %v %q, want %q", what, o.Shape, got, classes(top))
				}
			default:
				t.Errorf("%s: output %q", what, o.Name)
			}
		}
	}
	top3 := map[string]*pb.InferParameter{"top": {ParameterChoice: &pb.InferParameter_Int64Param{Int64Param: 3}}}
	shape := []int64{2, 3, tinyCrop, tinyCrop}
	r, err := f.grpc.ModelInfer(ctx, &pb.ModelInferRequest{ModelName: "tiny", Id: "g1", Parameters: top3,
		Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: shape, Contents: &pb.InferTensorContents{Fp32Contents: flatten(in)}}}})
	if err != nil {
		t.Fatal(err)
	}
	check("FP32 contents", r, false)
	r, err = f.grpc.ModelInfer(ctx, &pb.ModelInferRequest{ModelName: "tiny", Id: "g1", Parameters: top3,
		Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "image", Datatype: "BYTES", Shape: []int64{2}, Contents: &pb.InferTensorContents{BytesContents: enc[:2]}}}})
	if err != nil {
		t.Fatal(err)
	}
	check("BYTES contents", r, false)
	var raw []byte
	for _, v := range flatten(in) {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	r, err = f.grpc.ModelInfer(ctx, &pb.ModelInferRequest{ModelName: "tiny", Id: "g1", Parameters: top3, RawInputContents: [][]byte{raw},
		Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: shape}}})
	if err != nil {
		t.Fatal(err)
	}
	check("raw FP32", r, true)
}

// Server reflection lists the inference service, for grpcurl and the like.
func TestGRPCReflection(t *testing.T) {
	f := newFixture(t, Options{MaxBatch: 2})
	stream, err := grpc_reflection_v1.NewServerReflectionClient(f.conn).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&grpc_reflection_v1.ServerReflectionRequest{
		MessageRequest: &grpc_reflection_v1.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	r, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range r.GetListServicesResponse().GetService() {
		names = append(names, s.Name)
	}
	if !slices.Contains(names, "inference.GRPCInferenceService") {
		t.Errorf("reflection lists %v, want inference.GRPCInferenceService", names)
	}
	stream.CloseSend()
}
