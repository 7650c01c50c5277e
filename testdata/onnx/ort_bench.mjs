// ONNX Runtime timed on one ONNX file, for BENCHMARKS.md's side-by-side
// with `resnet-gpu bench --weights FILE` (run the two interleaved). Prints
// the median, p10 and p90 latency of RUNS forward passes at batch 1 after 3
// warm-up passes, with THREADS intra-op threads, on PROVIDER: cpu (the
// default) or webgpu (ORT's Dawn-based WebGPU provider, which picks its
// Vulkan driver as any Vulkan program does; see ort_webgpu.sh).
//
// With onnxruntime-node installed outside the repository
// (npm install --ignore-scripts onnxruntime-node in some folder DIR):
//
//	NODE_PATH=DIR/node_modules node testdata/onnx/ort_bench.mjs FILE.onnx [RUNS] [THREADS] [PROVIDER]
import { createRequire } from "node:module";

const ort = createRequire(import.meta.url)("onnxruntime-node");
const [file, runs = "20", threads = "2", provider = "cpu"] = process.argv.slice(2);
const session = await ort.InferenceSession.create(file, {
  executionProviders: [provider],
  intraOpNumThreads: +threads,
  interOpNumThreads: 1,
});
const input = new ort.Tensor("float32", new Float32Array(3 * 224 * 224).map((_, i) => Math.sin(i)), [1, 3, 224, 224]);
const feeds = { [session.inputNames[0]]: input };
for (let i = 0; i < 3; i++) await session.run(feeds);
const times = [];
for (let i = 0; i < +runs; i++) {
  const t0 = process.hrtime.bigint();
  await session.run(feeds);
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
times.sort((a, b) => a - b);
const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
console.log(`ort ${provider} ${threads} threads ${file}: median ${q(0.5).toFixed(1)} ms, p10 ${q(0.1).toFixed(1)} ms, p90 ${q(0.9).toFixed(1)} ms over ${runs} runs`);
