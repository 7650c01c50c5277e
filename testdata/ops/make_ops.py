"""Per-op reference outputs from real PyTorch for the CPU reference ops.

Writes testdata/ops/torch_ops.json: one case per op configuration
(conv2d, maxpool, avgpool, global_avgpool, linear, softmax, relu, add,
batchnorm, flatten, concat). Inputs and parameters come from a seeded
torch.Generator and are rounded to float32; those float32 values are what
is stored and what the Go reference gets. The op is then evaluated by
PyTorch in float64 (.double()) on exactly those float32 values, and the
float64 result is stored.

Run from the repository root:

    /usr/bin/python3 testdata/ops/make_ops.py

Made with Debian's python3-torch (torch 1.13.0a0, CPU). The output is
deterministic for a given torch version.

JSON format:

    {"torch_version": "...", "generator": "make_ops.py", "cases": [
      {"name": "...", "op": "conv2d", "attrs": {...},
       "inputs": [{"shape": [...], "f32": "<base64 little-endian float32>"}],
       "params": {"weight": {"shape": [...], "f32": "..."}, ...},
       "output": {"shape": [...], "f64": "<base64 little-endian float64>"}}]}

Padding is always [top, left, bottom, right]; stride, dilation and kernel
are [y, x].
"""

import base64
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

SEED = 20240611
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_ops.json")

gen = torch.Generator().manual_seed(SEED)


def uniform(shape, lo, hi):
    """float32 tensor uniform in [lo, hi) from the seeded generator, no zeros."""
    t = torch.rand(shape, generator=gen, dtype=torch.float64) * (hi - lo) + lo
    t = t.float()
    # Never exact zeros: a zero hides sign and indexing mistakes.
    t[t == 0] = (hi - lo) / 1024.0
    return t


def inp(shape, scale=1.0):
    return uniform(shape, -1.0, 1.0) * scale


def f32(t):
    a = np.ascontiguousarray(t.detach().numpy().astype("<f4"))
    return {"shape": list(t.shape), "f32": base64.b64encode(a.tobytes()).decode()}


def f64(t):
    a = np.ascontiguousarray(t.detach().numpy().astype("<f8"))
    return {"shape": list(t.shape), "f64": base64.b64encode(a.tobytes()).decode()}


cases = []
names = set()


def add_case(name, op, attrs, inputs, params, output):
    assert name not in names, name
    names.add(name)
    assert output.dtype == torch.float64
    cases.append({
        "name": name, "op": op, "attrs": attrs,
        "inputs": [f32(x) for x in inputs],
        "params": {k: f32(v) for k, v in params.items()},
        "output": f64(output),
    })


def pair(v):
    return list(v) if isinstance(v, (tuple, list)) else [v, v]


# ---- conv2d ---------------------------------------------------------------

def conv(name, n, cin, h, w, cout, k, stride=1, pad=0, dilation=1, groups=1,
         bias=True):
    kh, kw = pair(k)
    sy, sx = pair(stride)
    dy, dx = pair(dilation)
    if isinstance(pad, int):
        pad = [pad, pad, pad, pad]
    top, left, bottom, right = pad
    fan_in = cin // groups * kh * kw
    bound = math.sqrt(3.0 / fan_in)
    x = inp((n, cin, h, w))
    wt = uniform((cout, cin // groups, kh, kw), -bound, bound)
    params = {"weight": wt}
    b = None
    if bias:
        b = uniform((cout,), -0.5, 0.5)
        params["bias"] = b
    xp = F.pad(x.double(), (left, right, top, bottom))
    y = F.conv2d(xp, wt.double(), None if b is None else b.double(),
                 stride=(sy, sx), padding=0, dilation=(dy, dx), groups=groups)
    attrs = {"stride": [sy, sx], "pad": [top, left, bottom, right],
             "dilation": [dy, dx], "groups": groups}
    add_case("conv2d(" + name + ")", "conv2d", attrs, [x], params, y)


conv("3x3,p=1", 1, 8, 9, 9, 16, 3, pad=1)
conv("1x1,s=2", 1, 16, 8, 8, 12, 1, stride=2)
conv("1x1,s=2,odd", 1, 16, 7, 7, 12, 1, stride=2)
conv("7x7,s=2,p=3,odd", 1, 3, 15, 13, 8, 7, stride=2, pad=3)
conv("3x3,p=1,groups=2", 1, 8, 6, 6, 12, 3, pad=1, groups=2)
conv("3x3,p=1,groups=32,resnext", 2, 128, 7, 7, 128, 3, pad=1, groups=32)
conv("3x3,s=2,p=1,groups=32,resnext", 1, 128, 8, 8, 128, 3, stride=2, pad=1,
     groups=32)
conv("3x3,p=1,depthwise=8", 1, 8, 7, 7, 8, 3, pad=1, groups=8)
conv("3x3,p=1,groups=3", 1, 6, 6, 5, 9, 3, pad=1, groups=3)
conv("3x3,p=2,dilation=2", 1, 4, 9, 9, 6, 3, pad=2, dilation=2)
conv("3x3,p=1,dilation=(1,2)", 1, 4, 7, 9, 6, 3, pad=[1, 2, 1, 2],
     dilation=(1, 2))
conv("3x3,groups=4,dilation=2", 1, 8, 9, 9, 8, 3, pad=2, dilation=2, groups=4)
conv("3x3,s=2,pad=(0,1,1,0)", 1, 4, 8, 8, 6, 3, stride=2, pad=[0, 1, 1, 0])
conv("3x3,s=2,pad=(1,0,2,1)", 1, 4, 7, 8, 6, 3, stride=2, pad=[1, 0, 2, 1])
conv("1x3,p=(0,1)", 1, 4, 5, 6, 6, (1, 3), pad=[0, 1, 0, 1])
conv("3x1,p=(1,0)", 1, 4, 5, 6, 6, (3, 1), pad=[1, 0, 1, 0])
conv("3x3,p=1,nobias", 1, 4, 6, 6, 8, 3, pad=1, bias=False)
conv("1x1,nobias", 1, 16, 4, 4, 8, 1, bias=False)
conv("1x1,image=1x1", 2, 32, 1, 1, 10, 1)
conv("3x3,p=1,image=1x1", 1, 8, 1, 1, 4, 3, pad=1)
conv("3x3,p=1,batch=3", 3, 4, 5, 5, 6, 3, pad=1)
conv("3x3,p=1,cin=5,cout=7", 1, 5, 6, 7, 7, 3, pad=1)
conv("3x3,s=2,p=1,cin=7,cout=5", 1, 7, 9, 8, 5, 3, stride=2, pad=1)
conv("5x5,s=(2,1),p=2,cin=5", 1, 5, 8, 7, 7, 5, stride=(2, 1), pad=2)

# ---- pooling --------------------------------------------------------------


def pool_name(kind, kh, kw, sy, sx, top, left, ceil, cip):
    s = "%s(k=%dx%d,s=%s,p=%s" % (
        kind, kh, kw, str(sy) if sy == sx else "(%d,%d)" % (sy, sx),
        str(top) if top == left else "(%d,%d)" % (top, left))
    if ceil:
        s += ",ceil"
    if cip is not None:
        s += ",include_pad" if cip else ",exclude_pad"
    return s


def pool(kind, n, c, h, w, k, stride, pad=0, ceil=False, cip=None, tag=""):
    kh, kw = pair(k)
    sy, sx = pair(stride)
    py, px = pair(pad)
    x = inp((n, c, h, w))
    attrs = {"kernel": [kh, kw], "stride": [sy, sx], "pad": [py, px, py, px],
             "ceil_mode": ceil}
    if kind == "maxpool":
        y = F.max_pool2d(x.double(), (kh, kw), (sy, sx), (py, px),
                         ceil_mode=ceil)
    else:
        attrs["count_include_pad"] = cip
        y = F.avg_pool2d(x.double(), (kh, kw), (sy, sx), (py, px),
                         ceil_mode=ceil, count_include_pad=cip)
    name = pool_name(kind, kh, kw, sy, sx, py, px, ceil, cip)
    name += ",in=%dx%d%s)" % (h, w, tag)
    add_case(name, kind, attrs, [x], {}, y)


pool("maxpool", 1, 4, 13, 13, 3, 2, 1)
pool("maxpool", 2, 4, 14, 14, 3, 2, 1)
pool("maxpool", 1, 3, 7, 7, 2, 2)
pool("maxpool", 1, 3, 7, 7, 2, 2, ceil=True)
pool("maxpool", 1, 3, 6, 6, 3, 2, ceil=True)
pool("maxpool", 1, 3, 6, 6, 3, 2, 1, ceil=True)
pool("maxpool", 1, 3, 7, 7, 3, 2, 1, ceil=True)
pool("maxpool", 1, 3, 7, 6, (3, 2), (2, 1), (1, 0))
# ceil_mode drops a last window that would start in the right/bottom padding:
# 5x5, k=2, s=2, p=1 gives 3x3, not ceil((5+2-2)/2)+1 = 4.
pool("maxpool", 1, 3, 5, 5, 2, 2, 1, ceil=True)
pool("maxpool", 2, 3, 1, 1, 1, 1)
pool("maxpool", 1, 3, 1, 1, 3, 2, 1)
pool("maxpool", 1, 3, 1, 1, 3, 2, 1, ceil=True)

pool("avgpool", 1, 4, 8, 8, 2, 2, cip=True)
pool("avgpool", 1, 4, 7, 7, 2, 2, cip=True)
pool("avgpool", 1, 4, 7, 7, 2, 2, ceil=True, cip=True)
pool("avgpool", 1, 4, 7, 7, 2, 2, ceil=True, cip=False)
pool("avgpool", 1, 3, 6, 6, 3, 1, 1, cip=True)
pool("avgpool", 1, 3, 6, 6, 3, 1, 1, cip=False)
for hw in (6, 7):
    for cip in (True, False):
        pool("avgpool", 1, 3, hw, hw, 3, 2, 1, ceil=True, cip=cip)
pool("avgpool", 1, 3, 6, 6, 3, 2, ceil=True, cip=True)
pool("avgpool", 1, 3, 6, 6, 3, 2, ceil=True, cip=False)
pool("avgpool", 1, 3, 5, 5, 2, 2, 1, ceil=True, cip=True)
pool("avgpool", 1, 3, 5, 5, 2, 2, 1, ceil=True, cip=False)
pool("avgpool", 1, 3, 7, 6, (3, 2), (2, 1), (1, 0), cip=True)
pool("avgpool", 1, 3, 7, 6, (3, 2), (2, 1), (1, 0), cip=False)
pool("avgpool", 1, 3, 8, 7, (3, 2), (2, 2), (1, 1), ceil=True, cip=True)
pool("avgpool", 1, 3, 8, 7, (3, 2), (2, 2), (1, 1), ceil=True, cip=False)

for shape in ((1, 8, 7, 7), (2, 5, 3, 4), (3, 4, 1, 1)):
    x = inp(shape)
    y = F.adaptive_avg_pool2d(x.double(), 1)
    add_case("global_avgpool(in=%s)" % "x".join(map(str, shape)),
             "global_avgpool", {}, [x], {}, y)

# ---- linear / softmax -------------------------------------------------------

for n, fin, fout in ((1, 64, 10), (3, 37, 21), (2, 512, 100), (1, 1, 1)):
    x = inp((n, fin))
    bound = math.sqrt(3.0 / fin)
    wt = uniform((fout, fin), -bound, bound)
    b = uniform((fout,), -0.5, 0.5)
    y = F.linear(x.double(), wt.double(), b.double())
    add_case("linear(n=%d,in=%d,out=%d)" % (n, fin, fout), "linear", {},
             [x], {"weight": wt, "bias": b}, y)

for n, k, scale in ((2, 1000, 20.0), (1, 1000, 1.0), (3, 10, 5.0), (2, 1, 1.0)):
    x = inp((n, k), scale)
    y = torch.softmax(x.double(), dim=-1)
    add_case("softmax(n=%d,k=%d,x%g)" % (n, k, scale), "softmax",
             {"axis": -1}, [x], {}, y)

# ---- elementwise ------------------------------------------------------------

for shape in ((2, 5, 4, 3), (1, 1000)):
    x = inp(shape)
    add_case("relu(in=%s)" % "x".join(map(str, shape)), "relu", {}, [x], {},
             torch.relu(x.double()))

for relu in (False, True):
    a, b = inp((2, 6, 5, 4)), inp((2, 6, 5, 4))
    y = a.double() + b.double()
    if relu:
        y = torch.relu(y)
    add_case("add(relu=%s)" % str(relu).lower(), "add", {"relu": relu},
             [a, b], {}, y)

for shape in ((2, 6, 5, 4), (1, 3, 1, 1)):
    c = shape[1]
    x = inp(shape)
    p = {"gamma": uniform((c,), 0.5, 1.5), "beta": uniform((c,), -0.5, 0.5),
         "mean": uniform((c,), -0.5, 0.5), "var": uniform((c,), 0.5, 1.5)}
    y = F.batch_norm(x.double(), p["mean"].double(), p["var"].double(),
                     p["gamma"].double(), p["beta"].double(), training=False,
                     eps=1e-5)
    add_case("batchnorm(in=%s)" % "x".join(map(str, shape)), "batchnorm",
             {"eps": 1e-5}, [x], p, y)

for shape in ((2, 8, 1, 1), (2, 3, 4, 5)):
    x = inp(shape)
    add_case("flatten(in=%s)" % "x".join(map(str, shape)), "flatten",
             {"axis": 1}, [x], {}, torch.flatten(x.double(), 1))

for chans, hw, n in (((3, 5), (4, 4), 1), ((2, 7, 4), (3, 5), 2)):
    xs = [inp((n, c) + hw) for c in chans]
    y = torch.cat([x.double() for x in xs], dim=1)
    add_case("concat(n=%d,c=%s,hw=%dx%d)" % (n, "+".join(map(str, chans)),
                                            hw[0], hw[1]),
             "concat", {"axis": 1}, xs, {}, y)

with open(OUT, "w") as f:
    json.dump({"torch_version": torch.__version__, "generator": "make_ops.py",
               "cases": cases}, f, indent=1)
    f.write("\n")
print("wrote %s: %d cases, %d bytes" % (OUT, len(cases), os.path.getsize(OUT)))
