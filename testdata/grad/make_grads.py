#!/usr/bin/python3
"""PyTorch autograd goldens for the gradient checks (graph/opcheck).

For each case: an op with small shapes, its inputs and parameters drawn
from torch's generator (seeded here), an output gradient R, and PyTorch's
gradients of sum(out * R) with respect to every input and parameter, all
in float64. graph/opcheck's TestGradTorch builds the same op from the
attributes, runs our Backward64 on the same values and compares; the
tests never run Python.

Run with Debian's python3-torch:  /usr/bin/python3 testdata/grad/make_grads.py
It writes testdata/grad/ops.json.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(16)
D = torch.float64


def rand(*shape, lo=-1.0, hi=1.0):
    return (torch.rand(*shape, dtype=D) * (hi - lo) + lo).requires_grad_()


def flat(t):
    return t.detach().reshape(-1).tolist()


cases = []


def case(name, op, inputs, params, fn, consts=None):
    """fn(inputs, params) -> out; records gradients of sum(out * R)."""
    out = fn(inputs, params)
    r = torch.rand(out.shape, dtype=D) * 2 - 1
    (out * r).sum().backward()
    cases.append({
        "name": name,
        "op": op,
        "shapes": [list(x.shape) for x in inputs],
        "inputs": [flat(x) for x in inputs],
        "params": [flat(p) for p in params],
        "consts": {k: flat(v) for k, v in (consts or {}).items()},
        "dout": flat(r),
        "grads": [flat(x.grad) for x in inputs] + [flat(p.grad) for p in params],
    })


def conv(name, n, cin, h, w, cout, k, stride, pad, dil=1, groups=1, bias=False, relu=False, residual=False):
    x = rand(n, cin, h, w)
    wt = rand(cout, cin // groups, k, k)
    params = [wt] + ([rand(cout)] if bias else [])
    oh = (h + 2 * pad - dil * (k - 1) - 1) // stride + 1
    ow = (w + 2 * pad - dil * (k - 1) - 1) // stride + 1
    inputs = [x] + ([rand(n, cout, oh, ow)] if residual else [])

    def fn(xs, ps):
        y = F.conv2d(xs[0], ps[0], ps[1] if bias else None, stride, pad, dil, groups)
        if residual:
            y = y + xs[1]
        return F.relu(y) if relu else y
    op = {"kind": "conv2d", "cin": cin, "cout": cout, "k": k, "stride": stride, "pad": pad,
          "dilation": dil, "groups": groups, "bias": bias, "relu": relu, "residual": residual}
    case(name, op, inputs, params, fn)


conv("conv", 2, 3, 5, 5, 4, 3, 1, 1)
conv("conv_strided_bias", 2, 3, 7, 7, 4, 3, 2, 1, bias=True)
conv("conv_grouped", 2, 4, 6, 6, 6, 3, 1, 1, groups=2, bias=True)
conv("conv_1x1_s2", 2, 4, 6, 6, 4, 1, 2, 0)
conv("conv_7x7_s2_p3", 2, 3, 9, 9, 4, 7, 2, 3)
conv("conv_dilated", 2, 4, 6, 6, 4, 3, 1, 2, dil=2, bias=True)
conv("conv_relu_residual", 2, 4, 6, 6, 4, 3, 1, 1, bias=True, relu=True, residual=True)


def bn_train(name, shape, relu):
    x, g, b = rand(*shape), rand(shape[1], lo=0.5, hi=1.5), rand(shape[1], lo=-0.5, hi=0.5)

    def fn(xs, ps):
        y = F.batch_norm(xs[0], None, None, ps[0], ps[1], training=True, eps=1e-5)
        return F.relu(y) if relu else y
    case(name, {"kind": "batchnorm_train", "eps": 1e-5, "relu": relu}, [x], [g, b], fn)


bn_train("batchnorm_train", (3, 4, 3, 3), False)
bn_train("batchnorm_train_relu", (2, 3, 2, 2), True)

for relu in (False, True):
    shape = (2, 4, 3, 3)
    x, g, b = rand(*shape), rand(4, lo=0.5, hi=1.5), rand(4, lo=-0.5, hi=0.5)
    # float32-exact: our eval-mode batch-norm holds its statistics as float32
    mean = (torch.rand(4, dtype=D) - 0.5).float().double()
    var = (torch.rand(4, dtype=D) + 0.5).float().double()

    def fn(xs, ps, mean=mean, var=var, relu=relu):
        y = F.batch_norm(xs[0], mean, var, ps[0], ps[1], training=False, eps=1e-5)
        return F.relu(y) if relu else y
    case("batchnorm_eval" + ("_relu" if relu else ""), {"kind": "batchnorm", "eps": 1e-5, "relu": relu},
         [x], [g, b], fn, consts={"mean": mean, "var": var})

case("relu", {"kind": "relu"}, [rand(2, 4, 6, 6)], [], lambda xs, ps: F.relu(xs[0]))
for relu in (False, True):
    case("add" + ("_relu" if relu else ""), {"kind": "add", "relu": relu}, [rand(2, 4, 6, 6), rand(2, 4, 6, 6)], [],
         lambda xs, ps, relu=relu: F.relu(xs[0] + xs[1]) if relu else xs[0] + xs[1])

case("maxpool_3_2_1", {"kind": "maxpool", "k": 3, "stride": 2, "pad": 1}, [rand(2, 3, 7, 7)], [],
     lambda xs, ps: F.max_pool2d(xs[0], 3, 2, 1))
case("maxpool_2_2_0", {"kind": "maxpool", "k": 2, "stride": 2, "pad": 0}, [rand(2, 3, 6, 6)], [],
     lambda xs, ps: F.max_pool2d(xs[0], 2, 2, 0))
case("avgpool_include_pad", {"kind": "avgpool", "k": 3, "stride": 2, "pad": 1, "count_include_pad": True},
     [rand(2, 3, 7, 7)], [], lambda xs, ps: F.avg_pool2d(xs[0], 3, 2, 1, count_include_pad=True))
case("avgpool_ceil_exclude_pad", {"kind": "avgpool", "k": 3, "stride": 2, "pad": 1, "ceil": True},
     [rand(2, 3, 6, 6)], [], lambda xs, ps: F.avg_pool2d(xs[0], 3, 2, 1, ceil_mode=True, count_include_pad=False))
case("global_avgpool", {"kind": "global_avgpool"}, [rand(2, 4, 6, 6)], [],
     lambda xs, ps: F.adaptive_avg_pool2d(xs[0], 1))
case("flatten", {"kind": "flatten"}, [rand(2, 4, 3, 3)], [], lambda xs, ps: torch.flatten(xs[0], 1))
case("linear", {"kind": "linear", "in": 6, "out": 5}, [rand(3, 6)], [rand(5, 6), rand(5)],
     lambda xs, ps: F.linear(xs[0], ps[0], ps[1]))
case("softmax", {"kind": "softmax"}, [rand(3, 5)], [], lambda xs, ps: F.softmax(xs[0], dim=-1))
labels = [2, 0, 4]
case("cross_entropy", {"kind": "cross_entropy", "labels": labels}, [rand(3, 5, lo=-3, hi=3)], [],
     lambda xs, ps: F.cross_entropy(xs[0], torch.tensor(labels)).reshape(1))
# appended last, so that the cases above keep their draws
case("softmax_rows", {"kind": "softmax"}, [rand(2, 3, 70, lo=-4, hi=4)], [], lambda xs, ps: F.softmax(xs[0], dim=-1))

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "ops.json"), "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
    f.write("\n")
print(f"wrote {len(cases)} cases")
