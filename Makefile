# resnet-gpu: `make run` classifies the test images, `make test` runs every
# test. Both first check (as root on Debian/Ubuntu: install) the C compiler,
# the Vulkan loader and a Vulkan driver.

GO      ?= go
BIN     := bin/resnet-gpu
TESTTIMEOUT ?= 80m

.PHONY: all deps build run test test-short lint bench numbers fuzz proto clean

all: build

deps:
	@./.ci/deps

build: deps
	$(GO) build -o $(BIN) ./cmd/resnet-gpu

# Classify testdata/images with pretrained ResNet-50 (downloaded once into
# the user cache; synthetic weights when offline), then compare GPU and CPU.
run: build
	./$(BIN) demo testdata/images

test: deps
	$(GO) vet ./...
	$(GO) test -timeout $(TESTTIMEOUT) ./...
	$(GO) test -race -run 'Concurrent' ./gpu/ ./resnet/
	$(GO) test -race -run 'Batching|Pipelined|TestGPU|Shutdown' ./resnet/serve/

test-short: deps
	$(GO) test -short ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	$(GO) vet ./...
	@sc=$$(command -v staticcheck || echo "$$($(GO) env GOPATH)/bin/staticcheck"); \
	if [ -x "$$sc" ]; then "$$sc" ./...; else echo "staticcheck not installed: skipped (go install honnef.co/go/tools/cmd/staticcheck@v0.8.2)"; fi
	$(GO) test -run TestImportBoundary ./gpu/

bench: build
	./$(BIN) bench --arch resnet18 --batch 1
	./$(BIN) bench --arch resnet50 --batch 1
	$(GO) test -run '^$$' -bench . -benchtime 1x ./shaders/

# Measure again the numbers README.md quotes (accuracy against PyTorch,
# each subcommand's run time) on this machine; prints Markdown.
numbers: build
	BIN=$(BIN) GO=$(GO) ./benchmarks/numbers.sh

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzLoad -fuzztime 60s -fuzzminimizetime 1s ./resnet/weights/
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 60s -fuzzminimizetime 5s ./resnet/imagenet/
	$(GO) test -run '^$$' -fuzz FuzzLoadONNX -fuzztime 60s -fuzzminimizetime 1s ./graph/onnx/
	$(GO) test -run '^$$' -fuzz FuzzLoadH5 -fuzztime 60s -fuzzminimizetime 1s ./resnet/keras/h5/

# Regenerate graph/onnx/onnxpb/onnx.pb.go from onnx.proto and
# resnet/serve/inferencepb's Go from inference.proto (their go:generate
# lines): needs protoc (Debian: protobuf-compiler),
# go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12 and
# go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.0.
proto:
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" $(GO) generate ./graph/onnx/onnxpb/ ./resnet/serve/inferencepb/

clean:
	rm -rf bin
