"""numpy implementation of synthetic-v1 (testdata/SYNTHETIC.md), every family.

Copied from shared/fixtures/synth_reference.py and extended with the rules of
SYNTHETIC.md's "Families" section (DenseNet's classifier, the last batch norm
of each residual block); make_models.py and ../pth/make_checkpoints.py import
it. Needs only numpy (and torch for state_dict()).
"""
import re

import numpy as np

MASK = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15


def fnv1a64(s: str) -> int:
    h = 0xCBF29CE484222325
    for b in s.encode():
        h ^= b
        h = (h * 0x100000001B3) & MASK
    return h


def uniform(name: str, n: int, seed: int) -> np.ndarray:
    """n float64 values in [0,1): splitmix64 stream keyed by fnv1a64(name) xor seed."""
    base = np.uint64(fnv1a64(name) ^ (seed & MASK))
    with np.errstate(over="ignore"):
        z = base + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(GAMMA)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (2.0 ** -53)


# layerL.B.bnK.weight: a batch norm of the residual branch of block B.
BLOCK_BN = re.compile(r"^(layer[0-9]+\.[0-9]+)\.bn([0-9]+)\.weight\Z")


def last_bns(names):
    """The names layerL.B.bnK.weight whose K is the largest of block layerL.B:
    bn2 in BasicBlock nets, bn3 in Bottleneck nets (wide_resnet, resnext too)."""
    top = {}
    for n in names:
        m = BLOCK_BN.match(n)
        if m:
            top[m.group(1)] = max(top.get(m.group(1), 0), int(m.group(2)))
    return {f"{b}.bn{k}.weight" for b, k in top.items()}


def value(name: str, shape, seed: int, last: bool) -> np.ndarray:
    """The synthetic-v1 tensor of one entry; last marks the last batch norm of
    a residual branch."""
    shape = tuple(shape)
    n = int(np.prod(shape)) if len(shape) else 1
    if name.endswith("num_batches_tracked"):
        return np.zeros(shape, dtype=np.int64)
    u = uniform(name, n, seed)
    leaf = name.rsplit(".", 1)[-1]
    if len(shape) == 4:  # conv weight [O, I, kh, kw]; I is in/groups
        fan_in = shape[1] * shape[2] * shape[3]
        v = (2 * u - 1) * np.sqrt(6.0 / fan_in)
    elif name in ("fc.weight", "classifier.weight") and len(shape) == 2:
        v = (2 * u - 1) * np.sqrt(3.0 / shape[1])
    elif name in ("fc.bias", "classifier.bias"):
        v = (2 * u - 1) * 0.1
    elif leaf == "weight" and len(shape) == 1:  # batch-norm scale
        v = 0.2 + 0.2 * u if last else 0.5 + u
    elif leaf in ("bias", "running_mean") and len(shape) == 1:  # batch-norm shift, mean
        v = (2 * u - 1) * 0.1
    elif leaf == "running_var" and len(shape) == 1:
        v = 0.5 + u
    else:
        raise ValueError(f"synthetic-v1 has no rule for {name} {shape}")
    return v.astype(np.float32).reshape(shape)


def tensors(entries, seed: int):
    """{name: numpy array} for (name, shape) entries of one architecture."""
    entries = list(entries)
    last = last_bns(n for n, _ in entries)
    return {n: value(n, s, seed, n in last) for n, s in entries}


def state_dict(model, seed: int):
    """The synthetic-v1 state_dict of a torchvision model, in its own order."""
    import torch
    own = model.state_dict()
    vals = tensors(((k, tuple(t.shape)) for k, t in own.items()), seed)
    return {k: torch.from_numpy(vals[k]) for k in own}
