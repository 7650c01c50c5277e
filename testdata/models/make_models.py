"""PyTorch float64 references for every torchvision ResNet-family architecture.

Writes testdata/models/reference.json: for each model in MODELS below, the
torchvision model (torchvision.models.<arch>(weights=None, num_classes=K))
with the synthetic-v1 seed-0 weights of testdata/SYNTHETIC.md (made by
synthetic_v1.py beside this file), run by PyTorch in float64
(model.double().eval()) on the CPU on

  - the synthetic input testdata/inputs/synthetic-seed0-2x3x224x224.f32
    (raw little-endian float32, NCHW, N=2), and
  - the four preprocessed images testdata/inputs/NAME.3x224x224.f32 (CHW
    float32), batched in the order of testdata/reference.json "images".

Run from the repository root (about 15 minutes on the shared 2-core machine):

    /usr/bin/python3 testdata/models/make_models.py

Made with Debian 12's python3-torch 1.13 / python3-torchvision 0.14 (CPU).
The output is deterministic: the weights and inputs are exact, and the
float64 results are stored to 10 significant digits, far below what float64
summation order changes.

JSON format (floats to 10 significant digits):

    {"spec": "synthetic-v1", "seed": 0, "torch": ..., "torchvision": ...,
     "images": [...], "digest": "...how keys_sha256 is computed...",
     "families": {FAMILY: {"arch": MODEL, "checks": [
         {"name", "shape", "index": [i...], "u": [u(name, 0, i)...],
          "value": [float32 value of entry i, as a float64...]}]}},
     "models": {MODEL: {
         "arch", "num_classes", "num_keys", "keys_sha256",
         "keys": [[name, shape, dtype], ...]   (only for FULL_KEYS models),
         "synthetic_logits": [2][K], "synthetic_top5": [2][5],
         "synthetic_stages": {STAGE: {"shape", "mean", "std", "first"}},
         "image_logits": [4][K], "image_top5": [4][5],
         "image_stages": {STAGE: ...}}}}

MODEL is the arch name, with "-cK" appended when num_classes is K != 1000.
keys_sha256 is the sha256 (hex) of the UTF-8 text made of one line
"NAME:D0,D1,...\\n" per state_dict entry in torchvision's order (a scalar
has no dims: "bn1.num_batches_tracked:\\n"). "keys" lists every entry for one
model per family and its class-count variants; the others have only the
digest, to keep the file small. "u" and "value" are exact (repr of float64).

Stages are the outputs of torchvision modules, statistics over the whole
batch (std is torch's unbiased std), "first" the first 8 values in NCHW
order: ResNets: stem (maxpool), layer1..layer4. DenseNets: stem
(features.pool0), denseblock1..4, transition1..3, norm5 (features.norm5,
before the final ReLU).
"""
import hashlib
import json
import os
import sys
import time

import numpy as np
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import synthetic_v1  # noqa: E402

SEED = 0
OUT = os.path.join(HERE, "reference.json")

# (arch, num_classes) in the order they are written.
MODELS = [
    ("resnet34", 10), ("resnet18", 1000),
    ("wide_resnet50_2", 1000), ("wide_resnet101_2", 1000),
    ("resnext50_32x4d", 1000), ("resnext50_32x4d", 10),
    ("resnext101_32x8d", 1000), ("resnext101_64x4d", 1000),
    ("densenet121", 1000), ("densenet121", 5),
    ("densenet161", 1000), ("densenet169", 1000), ("densenet201", 1000),
]

# Models whose "keys" list is written in full.
FULL_KEYS = {"resnet34-c10", "resnet18", "wide_resnet50_2", "resnext50_32x4d",
             "resnext50_32x4d-c10", "densenet121", "densenet121-c5"}

# Per family, the model and entries whose stream values the Go test checks:
# one entry of every rule that the family uses.
FAMILIES = {
    "resnet": ("resnet34-c10", [
        "conv1.weight", "bn1.weight", "layer1.0.bn1.weight", "layer1.0.bn2.weight",
        "layer2.0.downsample.0.weight", "layer2.0.downsample.1.weight",
        "layer4.2.bn2.weight", "layer4.2.bn2.bias", "layer4.2.bn2.running_mean",
        "layer4.2.bn2.running_var", "fc.weight", "fc.bias"]),
    "wide_resnet": ("wide_resnet50_2", [
        "layer1.0.conv2.weight", "layer1.0.bn2.weight", "layer1.0.bn3.weight",
        "layer3.5.bn3.weight", "layer4.0.downsample.1.weight", "fc.weight"]),
    "resnext": ("resnext50_32x4d", [
        "layer1.0.conv2.weight", "layer4.2.conv2.weight", "layer1.0.bn2.weight",
        "layer1.0.bn3.weight", "layer3.5.bn3.running_var",
        "layer1.0.downsample.1.weight", "fc.weight", "fc.bias"]),
    "densenet": ("densenet121", [
        "features.conv0.weight", "features.norm0.weight",
        "features.denseblock1.denselayer1.norm1.weight",
        "features.denseblock1.denselayer1.conv1.weight",
        "features.denseblock1.denselayer1.norm2.weight",
        "features.denseblock1.denselayer1.conv2.weight",
        "features.denseblock3.denselayer24.norm2.running_var",
        "features.transition1.norm.weight", "features.transition1.conv.weight",
        "features.norm5.weight", "features.norm5.bias", "features.norm5.running_mean",
        "classifier.weight", "classifier.bias"]),
}

DIGEST = ("sha256 of one line NAME:D0,D1,...\\n per state_dict entry, "
          "in torchvision's order; a scalar's line is NAME:\\n")


def g(x):
    """x to 10 significant digits, as a Python float (written compactly)."""
    return float("%.10g" % x)


def model_key(arch, k):
    return arch if k == 1000 else f"{arch}-c{k}"


def keys_sha256(sd):
    text = "".join(f"{n}:{','.join(str(d) for d in t.shape)}\n" for n, t in sd.items())
    return hashlib.sha256(text.encode()).hexdigest()


def read_f32(path, shape):
    return np.fromfile(path, dtype="<f4").reshape(shape)


def inputs():
    with open(os.path.join(TESTDATA, "reference.json")) as f:
        images = json.load(f)["images"]
    syn = read_f32(os.path.join(TESTDATA, "inputs", "synthetic-seed0-2x3x224x224.f32"), (2, 3, 224, 224))
    imgs = np.stack([read_f32(os.path.join(TESTDATA, "inputs", os.path.splitext(n)[0] + ".3x224x224.f32"),
                              (3, 224, 224)) for n in images])
    return images, torch.from_numpy(syn.astype(np.float64)), torch.from_numpy(imgs.astype(np.float64))


def stage_modules(model, arch):
    if arch.startswith("densenet"):
        f = model.features
        names = ["pool0"] + [f"{k}{i}" for i in range(1, 5) for k in ("denseblock", "transition") if
                             hasattr(f, f"{k}{i}")] + ["norm5"]
        return {("stem" if n == "pool0" else n): getattr(f, n) for n in names}
    return {"stem": model.maxpool, **{f"layer{i}": getattr(model, f"layer{i}") for i in range(1, 5)}}


def stats(t):
    return {"shape": list(t.shape), "mean": g(t.mean().item()), "std": g(t.std().item()),
            "first": [g(v) for v in t.flatten()[:8].tolist()]}


def run(model, mods, x):
    """Logits and stage statistics of model on x. Statistics are taken in the
    hook, before any in-place ReLU that follows the module can change them."""
    st = {}
    hooks = [m.register_forward_hook(lambda _m, _i, out, n=n: st.__setitem__(n, stats(out)))
             for n, m in mods.items()]
    with torch.no_grad():
        y = model(x)
    for h in hooks:
        h.remove()
    return y, st


def top5(y):
    return [torch.argsort(r, descending=True, stable=True)[:5].tolist() for r in y]


def check_table(sd, names):
    checks = []
    for n in names:
        t = sd[n]
        numel = t.numel()
        index = sorted({0, 1, numel // 2, numel - 1})
        u = synthetic_v1.uniform(n, numel, SEED)
        flat = t.flatten()
        checks.append({"name": n, "shape": list(t.shape), "index": index,
                       "u": [float(u[i]) for i in index], "value": [float(flat[i]) for i in index]})
    return checks


def main():
    torch.set_num_threads(2)
    images, syn, imgs = inputs()
    out = {"spec": "synthetic-v1", "seed": SEED, "torch": torch.__version__,
           "torchvision": torchvision.__version__, "images": images, "digest": DIGEST,
           "families": {}, "models": {}}
    family_of = {m: f for f, (m, _) in FAMILIES.items()}
    total = time.time()
    for arch, k in MODELS:
        start = time.time()
        key = model_key(arch, k)
        model = getattr(torchvision.models, arch)(weights=None, num_classes=k)
        sd = synthetic_v1.state_dict(model, SEED)
        model.load_state_dict(sd)
        entry = {"arch": arch, "num_classes": k, "num_keys": len(sd), "keys_sha256": keys_sha256(sd)}
        if key in FULL_KEYS:
            entry["keys"] = [[n, list(t.shape), str(t.dtype)] for n, t in sd.items()]
        if key in family_of:
            f = family_of[key]
            out["families"][f] = {"arch": key, "checks": check_table(sd, FAMILIES[f][1])}
        model = model.double().eval()
        mods = stage_modules(model, arch)
        for which, x in (("synthetic", syn), ("image", imgs)):
            y, st = run(model, mods, x)
            entry[f"{which}_logits"] = [[g(v) for v in r] for r in y.tolist()]
            entry[f"{which}_top5"] = top5(y)
            entry[f"{which}_stages"] = st
        out["models"][key] = entry
        print(f"{key}: {time.time() - start:.1f}s", flush=True)
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"total {time.time() - total:.1f}s, {os.path.getsize(OUT)} bytes", flush=True)


if __name__ == "__main__":
    main()
