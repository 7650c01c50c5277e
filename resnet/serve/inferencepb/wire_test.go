package inferencepb

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// The protocol's grpc_predict_v2.proto, field by field: each message's
// fields with their numbers, cardinality and types. Ours must match it to
// be wire-compatible; it may lack only the methods we do not serve.
var protocol = map[string]string{
	"ServerLiveRequest":                            "",
	"ServerLiveResponse":                           "live=1 bool",
	"ServerReadyRequest":                           "",
	"ServerReadyResponse":                          "ready=1 bool",
	"ModelReadyRequest":                            "name=1 string version=2 string",
	"ModelReadyResponse":                           "ready=1 bool",
	"ServerMetadataRequest":                        "",
	"ServerMetadataResponse":                       "name=1 string version=2 string extensions=3 repeated string",
	"ModelMetadataRequest":                         "name=1 string version=2 string",
	"ModelMetadataResponse":                        "name=1 string versions=2 repeated string platform=3 string inputs=4 repeated TensorMetadata outputs=5 repeated TensorMetadata",
	"ModelMetadataResponse.TensorMetadata":         "name=1 string datatype=2 string shape=3 repeated int64",
	"ModelInferRequest":                            "model_name=1 string model_version=2 string id=3 string parameters=4 map<string,InferParameter> inputs=5 repeated InferInputTensor outputs=6 repeated InferRequestedOutputTensor raw_input_contents=7 repeated bytes",
	"ModelInferRequest.InferInputTensor":           "name=1 string datatype=2 string shape=3 repeated int64 parameters=4 map<string,InferParameter> contents=5 InferTensorContents",
	"ModelInferRequest.InferRequestedOutputTensor": "name=1 string parameters=2 map<string,InferParameter>",
	"ModelInferResponse":                           "model_name=1 string model_version=2 string id=3 string parameters=4 map<string,InferParameter> outputs=5 repeated InferOutputTensor raw_output_contents=6 repeated bytes",
	"ModelInferResponse.InferOutputTensor":         "name=1 string datatype=2 string shape=3 repeated int64 parameters=4 map<string,InferParameter> contents=5 InferTensorContents",
	"InferParameter":                               "bool_param=1 bool int64_param=2 int64 string_param=3 string",
	"InferTensorContents":                          "bool_contents=1 repeated bool int_contents=2 repeated int32 int64_contents=3 repeated int64 uint_contents=4 repeated uint32 uint64_contents=5 repeated uint64 fp32_contents=6 repeated float fp64_contents=7 repeated double bytes_contents=8 repeated bytes",
	"GRPCInferenceService/ServerLive":              "ServerLiveRequest ServerLiveResponse",
	"GRPCInferenceService/ServerReady":             "ServerReadyRequest ServerReadyResponse",
	"GRPCInferenceService/ModelReady":              "ModelReadyRequest ModelReadyResponse",
	"GRPCInferenceService/ServerMetadata":          "ServerMetadataRequest ServerMetadataResponse",
	"GRPCInferenceService/ModelMetadata":           "ModelMetadataRequest ModelMetadataResponse",
	"GRPCInferenceService/ModelInfer":              "ModelInferRequest ModelInferResponse",
}

// describe writes a field as the protocol table does.
func describe(f protoreflect.FieldDescriptor) string {
	typ := func(f protoreflect.FieldDescriptor) string {
		if m := f.Message(); m != nil {
			return string(m.Name())
		}
		return f.Kind().String()
	}
	s := fmt.Sprintf("%s=%d ", f.Name(), f.Number())
	switch {
	case f.IsMap():
		return s + fmt.Sprintf("map<%s,%s>", typ(f.MapKey()), typ(f.MapValue()))
	case f.Cardinality() == protoreflect.Repeated:
		return s + "repeated " + typ(f)
	}
	return s + typ(f)
}

func TestWireCompatible(t *testing.T) {
	fd := File_inference_proto
	if fd.Package() != "inference" {
		t.Fatalf("package %q, want inference", fd.Package())
	}
	got := map[string]string{}
	var walk func(prefix string, ms protoreflect.MessageDescriptors)
	walk = func(prefix string, ms protoreflect.MessageDescriptors) {
		for i := range ms.Len() {
			m := ms.Get(i)
			if m.IsMapEntry() {
				continue
			}
			s := ""
			for j := range m.Fields().Len() {
				if j > 0 {
					s += " "
				}
				s += describe(m.Fields().Get(j))
			}
			got[prefix+string(m.Name())] = s
			walk(prefix+string(m.Name())+".", m.Messages())
		}
	}
	walk("", fd.Messages())
	for i := range fd.Services().Len() {
		sv := fd.Services().Get(i)
		for j := range sv.Methods().Len() {
			m := sv.Methods().Get(j)
			got[string(sv.Name())+"/"+string(m.Name())] = string(m.Input().Name()) + " " + string(m.Output().Name())
		}
	}
	for k, want := range protocol {
		if got[k] != want {
			t.Errorf("%s:\n got %q\nwant %q", k, got[k], want)
		}
	}
	for k := range got {
		if _, ok := protocol[k]; !ok {
			t.Errorf("%s is not in the protocol", k)
		}
	}
}
