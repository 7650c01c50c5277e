// ONNX Runtime on the exports of make_onnx.py, against PyTorch's float64
// logits: an independent check of the files (the Go tests do not depend on
// it), and of ORT itself on PROVIDER: cpu (the default) or webgpu. For each
// file it prints the opset, the largest relative error over the inputs
// (max|Δ|/max|ref| per input) and whether every input's top 5 matches
// PyTorch's.
//
// With onnxruntime-node installed outside the repository
// (npm install --ignore-scripts onnxruntime-node in some folder DIR; the
// CPU library ships in the package), from the repository root:
//
//	NODE_PATH=DIR/node_modules node testdata/onnx/ort_check.mjs [testdata/onnx/big [PROVIDER]]
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const ort = createRequire(import.meta.url)("onnxruntime-node");
const [dir = "testdata/onnx", provider = "cpu"] = process.argv.slice(2);
const ref = JSON.parse(fs.readFileSync(path.join(dir, "reference.json")));

// The inputs as one NCHW batch, in reference order.
const item = 3 * 224 * 224;
const batch = new Float32Array(ref.inputs.length * item);
const read = (f) => {
  const b = fs.readFileSync(f);
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
};
const syn = read("testdata/inputs/synthetic-seed0-2x3x224x224.f32");
ref.inputs.forEach((name, i) => {
  const k = name.match(/^synthetic-seed0-(\d)$/);
  batch.set(k ? syn.subarray(+k[1] * item, (+k[1] + 1) * item) : read(`testdata/inputs/${name}.3x224x224.f32`), i * item);
});

const softmax = (v) => {
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
};
const top5 = (v) => [...v.keys()].sort((a, b) => v[b] - v[a] || a - b).slice(0, 5);

for (const [name, m] of Object.entries(ref.models)) {
  for (const file of m.files) {
    const s = await ort.InferenceSession.create(path.join(dir, file), { executionProviders: [provider], intraOpNumThreads: 2 });
    const t0 = Date.now();
    const out = await s.run({ [s.inputNames[0]]: new ort.Tensor("float32", batch, [ref.inputs.length, 3, 224, 224]) });
    const ms = Date.now() - t0;
    const got = out[s.outputNames[0]].data;
    const k = m.logits[0].length;
    let worst = 0, same = true;
    m.logits.forEach((logits, i) => {
      // A file whose output is a softmax is compared with PyTorch's probabilities.
      const want = m.output === "probabilities" ? softmax(logits) : logits;
      const row = Array.from(got.subarray(i * k, (i + 1) * k));
      const num = Math.max(...row.map((x, j) => Math.abs(x - want[j])));
      worst = Math.max(worst, num / Math.max(...want.map(Math.abs)));
      same &&= top5(row).join() === top5(want).join();
    });
    console.log(`${file}\topset ${file.match(/op(\d+)/)[1]}\tORT ${provider} rel err ${worst.toExponential(2)}\ttop5 ${same ? "identical" : "DIFFERENT"}\t${ms} ms for ${ref.inputs.length} inputs`);
  }
}
