// Package serve is resnet-gpu's model server: it answers KServe's Open
// Inference Protocol (predict API v2) over REST and gRPC, and TorchServe-style
// image uploads, for one or more [resnet.Model]s, gathering concurrent
// requests into batches for the device.
//
// REST (Server.Handler):
//
//	GET  /v2/health/live, /v2/health/ready    liveness, readiness (200 or 503)
//	GET  /v2                                  server metadata
//	GET  /v2/models/{m}, /v2/models/{m}/ready model metadata, readiness
//	POST /v2/models/{m}/infer                 inference (JSON, or the binary tensor data extension)
//	POST /predictions/{m}                     an encoded image in the body → JSON top-k
//	GET  /metrics                             Prometheus metrics
//
// gRPC (Server.RegisterGRPC): inference.GRPCInferenceService (see
// inferencepb), with server reflection.
//
// A request carries one input tensor, of either data type:
//
//   - FP32 [N,3,H,W]: images already preprocessed (H = W = the model's crop);
//   - BYTES [N]: encoded images (JPEG, PNG, GIF, BMP, TIFF, WebP),
//     preprocessed with the model's own transform. In JSON each element is a
//     base64 string.
//
// and gets up to three outputs, all of them unless it names some in
// "outputs": logits (FP32 [N,C]), probs (FP32 [N,C]) and classes (BYTES
// [N,k], "score:index:label" as Triton's classification extension; k is
// Options.Top unless the request parameter "top" or the classes output's
// parameter "classification" says otherwise).
//
// Each model has one goroutine that owns its device queue and runs batches
// of up to Options.MaxBatch images, each padded to one of the batch sizes
// compiled and warmed at start; another goroutine gathers the next batch
// while one runs; images are decoded on a worker pool. A full queue answers
// 429 (RESOURCE_EXHAUSTED) at once; a request's deadline (gRPC's, the
// Timeout header or the "timeout" parameter, in microseconds as Triton's)
// and its client's disconnection take it out of the queue.
package serve
