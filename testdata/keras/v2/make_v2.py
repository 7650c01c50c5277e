#!/usr/bin/python3
"""An external reference for Keras' ResNet50V2: weights by a documented rule, the Keras
topology, and float64 logits, none of them made by the project's code.

Run with Debian's numpy and h5py (apt-get install python3-h5py), from anywhere:

    /usr/bin/python3 testdata/keras/v2/make_v2.py [--images DIR]

DIR holds NAME.rgb8 (224×224×3 uint8 RGB after Keras' load_img resize; default
../shared/fixtures/inputs/keras). Then tfjs_v2.js adds TensorFlow.js' logits.

The network is keras-applications' ResNet50V2, transcribed below layer by layer from
resnet_common.ResNet (preact=True, use_bias=True) and resnet_v2.block / stack with the
layer names of today's Keras (the head is Dense "predictions"; the unnamed
MaxPooling2D(1, strides) shortcuts get Keras' automatic names max_pooling2d,
max_pooling2d_1, ...). The one definition gives the topology TensorFlow.js builds, the
weights' names and shapes, and the float64 forward pass here.

The weights rule (the Go test implements it too; the weights are inputs, not the
reference). A variable "LAYER/VAR" (e.g. "conv2_block1_1_conv/kernel") of Keras shape S
has seed = FNV-1a 64 of those bytes; element i of its C-order (HWIO kernels, Dense
[in, out]) is float32(lo + w*u) in float64 arithmetic, with
    z = seed + (i+1)*0x9E3779B97F4A7C15 (mod 2^64), then splitmix64's finaliser
    z ^= z>>30; z *= 0xBF58476D1CE4E5B9; z ^= z>>27; z *= 0x94D049BB133111EB; z ^= z>>31
    u = (z>>11) * 2^-53, in [0, 1)
and (lo, w) by variable: a convolution kernel of fan-in F = kh*kw*cin lo = -a, w = 2a with
a = g*sqrt(6/F) (He-uniform times g: 1, but KERNEL_GAIN for the _3_conv layers, which add
to the residual stream, so it grows slowly over the 16 blocks); the Dense kernel
a = sqrt(3/2048); biases (-0.05, 0.1); gamma (0.5, 1); beta (-0.1, 0.2); moving_mean
(-0.1, 0.2); moving_variance (0.5, 1).

Outputs, in this folder:
- resnet50v2.h5 (git-ignored, 102 MB): those weights in the layout of Keras 2.2.4
  save_weights with h5py 2 (fixed-length string attributes, one group per layer with
  datasets LAYER/LAYER/VAR:0), the layout of the keras-applications downloads.
- topology.json (git-ignored): model.to_json() of that network (tf.keras 2.3 style).
- inputs.bin (git-ignored): the preprocessed images, N×224×224×3 little-endian float32.
- weights.bin (git-ignored): the weights as little-endian float32 in the order of
  reference.json's "weights" list, for TensorFlow.js.
- reference.json (committed): the rule, the layers with weights, the images, and per
  image the float64 logits (before the softmax), top-5, the top-5 probabilities and the
  maximum |activation| after each stack.
"""

import argparse
import hashlib
import json
import os

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
EPS = 1.001e-5
SIZE = 224
KERNEL_GAIN = 0.25
IMAGES = ["astronaut", "chelsea", "coffee", "rocket"]
M64 = (1 << 64) - 1


# --- the network: keras-applications' ResNet50V2 --------------------------------------

class Net:
    """Layers in model order: dicts with class_name, name, config, inbound (layer names)
    and weights ([(var, shape)])."""

    def __init__(self):
        self.layers = []
        self.auto = {}

    def add(self, cls, name, inbound, config=None, weights=()):
        if name is None:  # Keras' automatic names: max_pooling2d, max_pooling2d_1, ...
            base = "".join("_" + c.lower() if c.isupper() else c for c in cls).lstrip("_")
            base = base.replace("2_d", "2d")
            n = self.auto.get(base, 0)
            self.auto[base] = n + 1
            name = base if n == 0 else "%s_%d" % (base, n)
        self.layers.append(dict(class_name=cls, name=name, config=dict(config or {}),
                                inbound=list(inbound), weights=list(weights)))
        return name


def build():
    net = Net()
    shapes = {}

    def add(cls, name, inbound, config, weights, out_shape):
        n = net.add(cls, name, inbound, config, weights)
        shapes[n] = out_shape
        return n

    def pad(x, p, name):
        h, w, c = shapes[x]
        return add("ZeroPadding2D", name, [x], {"padding": [[p, p], [p, p]]}, (), (h + 2 * p, w + 2 * p, c))

    def conv(x, filters, k, name, strides=1, use_bias=True):
        h, w, c = shapes[x]
        wts = [("kernel", (k, k, c, filters))] + ([("bias", (filters,))] if use_bias else [])
        cfg = {"filters": filters, "kernel_size": [k, k], "strides": [strides, strides], "padding": "valid",
               "use_bias": use_bias}
        return add("Conv2D", name, [x], cfg, wts, ((h - k) // strides + 1, (w - k) // strides + 1, filters))

    def bn(x, name):
        c = shapes[x][2]
        return add("BatchNormalization", name, [x], {"epsilon": EPS},
                   [(v, (c,)) for v in ("gamma", "beta", "moving_mean", "moving_variance")], shapes[x])

    def relu(x, name):
        return add("Activation", name, [x], {"activation": "relu"}, (), shapes[x])

    def maxpool(x, k, strides, name):
        h, w, c = shapes[x]
        return add("MaxPooling2D", name, [x], {"pool_size": [k, k], "strides": [strides, strides], "padding": "valid"},
                   (), ((h - k) // strides + 1, (w - k) // strides + 1, c))

    # resnet_v2.block
    def block(x, filters, kernel_size=3, stride=1, conv_shortcut=False, name=None):
        preact = bn(x, name + "_preact_bn")
        preact = relu(preact, name + "_preact_relu")
        if conv_shortcut:
            shortcut = conv(preact, 4 * filters, 1, name + "_0_conv", strides=stride)
        else:
            shortcut = maxpool(x, 1, stride, None) if stride > 1 else x
        y = conv(preact, filters, 1, name + "_1_conv", use_bias=False)
        y = bn(y, name + "_1_bn")
        y = relu(y, name + "_1_relu")
        y = pad(y, 1, name + "_2_pad")
        y = conv(y, filters, kernel_size, name + "_2_conv", strides=stride, use_bias=False)
        y = bn(y, name + "_2_bn")
        y = relu(y, name + "_2_relu")
        y = conv(y, 4 * filters, 1, name + "_3_conv")
        return add("Add", name + "_out", [shortcut, y], {}, (), shapes[y])

    # resnet_v2.stack
    def stack(x, filters, blocks, stride1=2, name=None):
        x = block(x, filters, conv_shortcut=True, name=name + "_block1")
        for i in range(2, blocks):
            x = block(x, filters, name=name + "_block" + str(i))
        return block(x, filters, stride=stride1, name=name + "_block" + str(blocks))

    # resnet_common.ResNet(stack_fn, preact=True, use_bias=True), include_top
    x = add("InputLayer", "input_1", [], {"batch_input_shape": [None, SIZE, SIZE, 3]}, (), (SIZE, SIZE, 3))
    x = pad(x, 3, "conv1_pad")
    x = conv(x, 64, 7, "conv1_conv", strides=2)
    x = pad(x, 1, "pool1_pad")
    x = maxpool(x, 3, 2, "pool1_pool")
    x = stack(x, 64, 3, name="conv2")
    x = stack(x, 128, 4, name="conv3")
    x = stack(x, 256, 6, name="conv4")
    x = stack(x, 512, 3, stride1=1, name="conv5")
    x = bn(x, "post_bn")
    x = relu(x, "post_relu")
    x = add("GlobalAveragePooling2D", "avg_pool", [x], {}, (), (shapes[x][2],))
    add("Dense", "predictions", [x], {"units": 1000, "activation": "softmax", "use_bias": True},
        [("kernel", (shapes[x][0], 1000)), ("bias", (1000,))], (1000,))
    return net


# --- the weights rule ---------------------------------------------------------------

def fnv1a64(s):
    h = 0xCBF29CE484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def uniform(seed, n):
    """u_i of the rule for i in [0, n), float64."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + (np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        z ^= z >> np.uint64(30)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(27)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def bounds(layer, var, shape):
    """(lo, w) of the rule."""
    if var == "kernel":
        if len(shape) == 2:
            a = np.sqrt(3.0 / shape[0])
        else:
            g = KERNEL_GAIN if layer.endswith("_3_conv") else 1.0
            a = g * np.sqrt(6.0 / (shape[0] * shape[1] * shape[2]))
        return -a, 2 * a
    return {"bias": (-0.05, 0.1), "gamma": (0.5, 1.0), "beta": (-0.1, 0.2),
            "moving_mean": (-0.1, 0.2), "moving_variance": (0.5, 1.0)}[var]


def weight(layer, var, shape):
    lo, w = bounds(layer, var, shape)
    u = uniform(fnv1a64(layer + "/" + var), int(np.prod(shape)))
    return (lo + w * u).astype(np.float32).reshape(shape)


# --- the float64 forward pass (Keras layer semantics, NHWC) ---------------------------

def forward(net, W, x):
    """Runs the layers on x (N, H, W, 3) float64; returns every layer's output."""
    out = {}
    for l in net.layers:
        c, cfg = l["class_name"], l["config"]
        ins = [out[n] for n in l["inbound"]]
        if c == "InputLayer":
            y = x
        elif c == "ZeroPadding2D":
            p = cfg["padding"][0][0]
            y = np.pad(ins[0], ((0, 0), (p, p), (p, p), (0, 0)))
        elif c == "Conv2D":
            k, s = cfg["kernel_size"][0], cfg["strides"][0]
            kern = W[l["name"]]["kernel"].astype(np.float64)
            xi = ins[0]
            ho, wo = (xi.shape[1] - k) // s + 1, (xi.shape[2] - k) // s + 1
            y = np.zeros((xi.shape[0], ho, wo, kern.shape[3]))
            for dy in range(k):
                for dx in range(k):
                    y += xi[:, dy:dy + s * (ho - 1) + 1:s, dx:dx + s * (wo - 1) + 1:s, :] @ kern[dy, dx]
            if cfg["use_bias"]:
                y += W[l["name"]]["bias"].astype(np.float64)
        elif c == "BatchNormalization":
            v = {k: a.astype(np.float64) for k, a in W[l["name"]].items()}
            y = (ins[0] - v["moving_mean"]) / np.sqrt(v["moving_variance"] + EPS) * v["gamma"] + v["beta"]
        elif c == "Activation":
            y = np.maximum(ins[0], 0)
        elif c == "MaxPooling2D":
            k, s = cfg["pool_size"][0], cfg["strides"][0]
            xi = ins[0]
            ho, wo = (xi.shape[1] - k) // s + 1, (xi.shape[2] - k) // s + 1
            y = None
            for dy in range(k):
                for dx in range(k):
                    t = xi[:, dy:dy + s * (ho - 1) + 1:s, dx:dx + s * (wo - 1) + 1:s, :]
                    y = t if y is None else np.maximum(y, t)
        elif c == "Add":
            y = ins[0] + ins[1]
        elif c == "GlobalAveragePooling2D":
            y = ins[0].mean(axis=(1, 2))
        elif c == "Dense":  # the logits: the softmax comes after
            y = ins[0] @ W[l["name"]]["kernel"].astype(np.float64) + W[l["name"]]["bias"].astype(np.float64)
        else:
            raise ValueError(c)
        out[l["name"]] = y
    return out


# --- files ---------------------------------------------------------------------------

def topology(net):
    """model.to_json() of the network, in tf.keras 2.3's format."""
    layers = []
    for l in net.layers:
        cfg = dict(name=l["name"], trainable=True, dtype="float32")
        cfg.update(l["config"])
        if l["class_name"] in ("Conv2D", "ZeroPadding2D", "MaxPooling2D", "GlobalAveragePooling2D"):
            cfg["data_format"] = "channels_last"
        if l["class_name"] == "Conv2D":
            cfg.update(dilation_rate=[1, 1], activation="linear")
        if l["class_name"] == "BatchNormalization":
            cfg.update(axis=[3], momentum=0.99, center=True, scale=True)
        layers.append(dict(class_name=l["class_name"], config=cfg, name=l["name"],
                           inbound_nodes=[[[n, 0, 0, {}] for n in l["inbound"]]] if l["inbound"] else []))
    return dict(class_name="Model", keras_version="2.3.0-tf", backend="tensorflow",
                config=dict(name="resnet50v2", layers=layers, input_layers=[["input_1", 0, 0]],
                            output_layers=[["predictions", 0, 0]]))


def fixed(strings):
    """A fixed-length string array, as h5py 2 stored Keras' lists of bytes."""
    return np.array([s.encode() for s in strings], dtype="S%d" % max([1] + [len(s) for s in strings]))


def write_h5(path, net, W):
    """Keras 2.2.4 save_weights with h5py 2: keras-applications' layout."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = fixed([l["name"] for l in net.layers])
        f.attrs["backend"] = np.bytes_(b"tensorflow")
        f.attrs["keras_version"] = np.bytes_(b"2.2.4")
        for l in net.layers:
            g = f.create_group(l["name"])
            wn = ["%s/%s:0" % (l["name"], v) for v, _ in l["weights"]]
            g.attrs["weight_names"] = fixed(wn) if wn else np.asarray([])
            for (v, _), n in zip(l["weights"], wn):
                g.create_dataset(n, data=W[l["name"]][v])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", default=os.path.join(HERE, "../../../../shared/fixtures/inputs/keras"))
    args = ap.parse_args()
    net = build()
    W = {}
    specs = []
    with open(os.path.join(HERE, "weights.bin"), "wb") as wb:
        for l in net.layers:
            for v, shape in l["weights"]:
                a = weight(l["name"], v, shape)
                W.setdefault(l["name"], {})[v] = a
                wb.write(a.astype("<f4").tobytes())
                specs.append({"name": l["name"] + "/" + v, "shape": list(shape), "dtype": "float32"})
    write_h5(os.path.join(HERE, "resnet50v2.h5"), net, W)
    with open(os.path.join(HERE, "topology.json"), "w") as f:
        json.dump(topology(net), f)

    # resnet_v2.preprocess_input: imagenet_utils mode 'tf' on float32: x /= 127.5; x -= 1.
    xs = []
    for name in IMAGES:
        rgb = np.fromfile(os.path.join(args.images, name + ".rgb8"), dtype=np.uint8).reshape(SIZE, SIZE, 3)
        x = rgb.astype(np.float32)
        x /= np.float32(127.5)
        x -= np.float32(1)
        xs.append(x)
    x = np.stack(xs).astype(np.float64)
    np.stack(xs).astype("<f4").tofile(os.path.join(HERE, "inputs.bin"))
    acts = forward(net, W, x)
    logits = acts["predictions"]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    top5 = np.argsort(-logits, axis=1, kind="stable")[:, :5]
    stages = ["pool1_pool", "conv2_block3_out", "conv3_block4_out", "conv4_block6_out", "conv5_block3_out", "post_relu"]
    ref = {
        "what": "Keras ResNet50V2 (keras-applications' definition) on rule-made weights: see make_v2.py",
        "size": SIZE,
        "kernel_gain": KERNEL_GAIN,
        "images": IMAGES,
        "preprocessing": "NAME.rgb8 of ../shared/fixtures/inputs/keras, float32 x/127.5 - 1 (mode 'tf'), RGB",
        "weights": [[s["name"], s["shape"]] for s in specs],
        "weights_sha256": {"resnet50v2.h5": sha256(os.path.join(HERE, "resnet50v2.h5")),
                           "weights.bin": sha256(os.path.join(HERE, "weights.bin"))},
        "logits": logits.tolist(),
        "top5": top5.tolist(),
        "top5_probs": [probs[i, t].tolist() for i, t in enumerate(top5)],
        "stage_max_abs": {s: [float(np.abs(a).max()) for a in acts[s]] for s in stages},
    }
    path = os.path.join(HERE, "reference.json")
    if os.path.exists(path):  # keep what tfjs_v2.js added
        old = json.load(open(path))
        for k in ("tfjs_f32", "agreement_tfjs_vs_f64"):
            if k in old and old.get("weights_sha256") == ref["weights_sha256"]:
                ref[k] = old[k]
    with open(path, "w") as f:
        json.dump(ref, f, indent=1)
    for i, n in enumerate(IMAGES):
        print(n, "top5", top5[i].tolist(), "probs", np.round(probs[i, top5[i]], 4).tolist(),
              "logit range", float(logits[i].min()), float(logits[i].max()))
    for s in stages:
        print(s, ref["stage_max_abs"][s])


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


if __name__ == "__main__":
    main()
