// Adds TensorFlow.js' logits to reference.json: the network of topology.json (Keras
// layers, built by TensorFlow.js' own Keras layer implementations) with the weights of
// weights.bin, on inputs.bin, all three written by make_v2.py. float32, CPU backend.
//
//   mkdir -p /tmp/tfjs && cd /tmp/tfjs && npm install @tensorflow/tfjs@4.22.0
//   NODE_PATH=/tmp/tfjs/node_modules node testdata/keras/v2/tfjs_v2.js
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

const here = __dirname;
const read = (f) => fs.readFileSync(path.join(here, f));

async function main() {
  await tf.setBackend('cpu');
  const ref = JSON.parse(read('reference.json'));
  const topology = JSON.parse(read('topology.json'));
  // The logits: the same model with the predictions layer's softmax left out.
  for (const l of topology.config.layers) {
    if (l.name === 'predictions') l.config.activation = 'linear';
  }
  const bin = read('weights.bin');
  const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  const weightSpecs = ref.weights.map(([name, shape]) => ({name, shape, dtype: 'float32'}));
  const model = await tf.loadLayersModel(tf.io.fromMemory({modelTopology: topology, weightSpecs, weightData}));
  const inp = read('inputs.bin');
  const n = ref.images.length, size = ref.size;
  const x = tf.tensor4d(new Float32Array(inp.buffer.slice(inp.byteOffset, inp.byteOffset + inp.byteLength)), [n, size, size, 3]);
  const t0 = Date.now();
  const logits = [];
  for (let i = 0; i < n; i++) {
    const y = model.predict(x.slice([i, 0, 0, 0], [1, size, size, 3]));
    logits.push(Array.from(await y.data()));
  }
  const secs = (Date.now() - t0) / 1000;
  // max|Δ|/max|f64| per image, as the Go tests measure it.
  const agreement = logits.map((l, i) => {
    let d = 0, m = 0;
    l.forEach((v, j) => {
      d = Math.max(d, Math.abs(v - ref.logits[i][j]));
      m = Math.max(m, Math.abs(ref.logits[i][j]));
    });
    return d / m;
  });
  ref.tfjs_f32 = {version: 'TensorFlow.js ' + tf.version.tfjs + ', backend ' + tf.getBackend(), logits};
  ref.agreement_tfjs_vs_f64 = agreement;
  fs.writeFileSync(path.join(here, 'reference.json'), JSON.stringify(ref, null, 1));
  console.log('tfjs %s: %d images in %ss; max|d|/max|ref| vs float64: %s', tf.version.tfjs, n, secs.toFixed(1),
      agreement.map((a) => a.toExponential(2)).join(' '));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
