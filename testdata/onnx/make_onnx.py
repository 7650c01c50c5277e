"""ONNX exports of small networks and PyTorch's float64 logits for them.

torch.onnx.export (Debian's python3-torch 1.13) writes each network at opsets
11, 13 and 17 with a dynamic batch axis ("batch"); PyTorch evaluates the
source network in float64 (model.double().eval()) on the test inputs. The
graph/onnx tests import the files and compare their logits with these.

Committed, beside this file (each file well under 300 KB):

  densenet-tiny-c3-opN.onnx   the checkpoint ../tiny/densenet-tiny-c3.pth
                              (torchvision's DenseNet, growth 8, blocks
                              2,2,2,2, 16 initial features, bn_size 2, 3
                              classes): BatchNormalization, Relu, Conv,
                              Concat, MaxPool, AveragePool,
                              GlobalAveragePool, Flatten, Gemm
  opsnet-opN.onnx             OpsNet below: input normalisation (Sub, Div),
                              zero Pad before a Conv and an AveragePool,
                              asymmetric, grouped, dilated, strided and
                              rectangular convolutions, batch-norm folded by
                              the exporter and standalone, MaxPool and
                              AveragePool with ceil_mode, with and without
                              count_include_pad, a residual Add, Concat, Mul
                              by constants, x.view(x.size(0), -1) (the
                              Shape→Gather→Unsqueeze→Concat→Reshape chain),
                              Gemm, MatMul and a final Softmax
  densenet-tiny-c3-op13-external.onnx (+ .onnx.data)
                              the opset 13 file saved by onnx with its
                              tensors in an external data file
  unsupported-leakyrelu-op13.onnx   a convolution and a LeakyRelu, which the
                              importer does not support
  reference.json              {"torch", "inputs", "models": {name: {"files",
                              "output", "logits", "top5"}}}: float64 logits
                              (for OpsNet, whose output is "probabilities",
                              the input of its final softmax) of each network
                              on the inputs, in order: the four preprocessed
                              images ../inputs/NAME.3x224x224.f32 (order of
                              ../reference.json "images") and the two items
                              of ../inputs/synthetic-seed0-2x3x224x224.f32

With --big, also writes into big/ (git-ignored, ~100 MB each; the
graph/onnx test TestBigModels runs them when the folder exists): resnet18,
resnet50 and resnext50_32x4d with the synthetic-v1 weights of seed 0
(../SYNTHETIC.md, so that the Go side can build the same network from
synthetic:0) and densenet121 with torch's initialisation and randomised
batch-norm statistics, at opsets 11, 13 and 17 (resnet50's opset 13 file also with external
data), and big/reference.json in the format above.

Run from the repository root:

    /usr/bin/python3 testdata/onnx/make_onnx.py [--big]
"""
import json
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.dirname(HERE)
OPSETS = (11, 13, 17)


class OpsNet(nn.Module):
    """A small network that uses every operator the importer maps."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.1, -0.2, 0.05]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.9, 1.1, 1.2]).view(1, 3, 1, 1))
        self.pad = nn.ZeroPad2d((1, 2, 0, 1))  # left, right, top, bottom
        self.stem = nn.Conv2d(3, 16, 5, stride=2, bias=False)
        self.bn0 = nn.BatchNorm2d(16)  # folded into stem by the exporter
        self.pool0 = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
        self.dil = nn.Conv2d(16, 16, 3, padding=2, dilation=2, groups=4, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.rect = nn.Conv2d(16, 16, (1, 3), stride=(1, 2), padding=(0, 1))
        self.avg_in = nn.AvgPool2d(3, stride=(1, 2), padding=1, count_include_pad=True)
        self.avg_ex = nn.AvgPool2d(3, stride=(1, 2), padding=1, count_include_pad=False)
        self.bn2 = nn.BatchNorm2d(48)  # after a concat: standalone
        self.gain = nn.Parameter(torch.empty(1, 48, 1, 1).uniform_(0.5, 1.5))
        self.conv3 = nn.Conv2d(48, 24, 3, stride=2, padding=1, bias=True)
        self.pool3 = nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
        self.pool4 = nn.AvgPool2d(2, stride=2)
        self.fc = nn.Linear(24, 5)
        self.w2 = nn.Parameter(torch.empty(24, 5).uniform_(-0.3, 0.3))

    def logits(self, x):
        x = (x - self.mean) / self.std
        x = F.relu(self.bn0(self.stem(self.pad(x))))
        x = self.pool0(x)
        x = F.relu(x + self.bn1(self.dil(x)))
        r = self.rect(x)
        x = torch.cat([r, self.avg_in(x), self.avg_ex(x)], 1)
        x = F.relu(self.bn2(x)) * self.gain
        x = self.conv3(x) * 0.5
        x = self.pool3(F.relu(x))
        x = self.pool4(F.pad(x, (0, 1, 0, 1)))
        x = F.adaptive_avg_pool2d(x, 1)
        x = x.view(x.size(0), -1)
        return self.fc(x) + x @ self.w2

    def forward(self, x):
        return F.softmax(self.logits(x), dim=1)


class LeakyNet(nn.Module):
    """A convolution and a LeakyRelu: an operator the importer rejects."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return torch.flatten(F.adaptive_avg_pool2d(F.leaky_relu(self.conv(x), 0.1), 1), 1)


def randomise_bn(model):
    """Batch-norm statistics and affine parameters away from the identity."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)


def synthetic(model, seed=0):
    """Sets a torchvision ResNet's state_dict to the synthetic-v1 weights."""
    M = (1 << 64) - 1

    def fnv(s):
        h = 0xcbf29ce484222325
        for b in s.encode():
            h = ((h ^ b) * 0x100000001b3) & M
        return h

    def u(name, n):
        base = np.uint64(fnv(name) ^ seed)
        with np.errstate(over="ignore"):
            z = base + (np.arange(n, dtype=np.uint64) + np.uint64(1)) * np.uint64(0x9e3779b97f4a7c15)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xbf58476d1ce4e5b9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94d049bb133111eb)
            z = z ^ (z >> np.uint64(31))
        return (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53

    assert abs(u("conv1.weight", 1)[0] - 0.54507498) < 1e-8
    last = "bn3" if isinstance(model.layer1[0], torchvision.models.resnet.Bottleneck) else "bn2"
    sd = model.state_dict()
    for name, t in sd.items():
        if name.endswith("num_batches_tracked"):
            continue
        v = u(name, t.numel()).reshape(t.shape)
        if t.dim() == 4:
            v = (2 * v - 1) * np.sqrt(6 / (t.shape[1] * t.shape[2] * t.shape[3]))
        elif name == "fc.weight":
            v = (2 * v - 1) * np.sqrt(3 / t.shape[1])
        elif name.endswith(".bias") or name.endswith("running_mean"):
            v = (2 * v - 1) * 0.1
        elif name.endswith("running_var"):
            v = 0.5 + v
        elif name.endswith(last + ".weight"):
            v = 0.2 + 0.2 * v
        else:
            v = 0.5 + v
        t.copy_(torch.from_numpy(v.astype(np.float32)))
    model.load_state_dict(sd)


def inputs():
    with open(os.path.join(TESTDATA, "reference.json")) as f:
        images = json.load(f)["images"]
    names = [n.rsplit(".", 1)[0] for n in images]
    x = [np.fromfile(os.path.join(TESTDATA, "inputs", n + ".3x224x224.f32"), dtype="<f4").reshape(3, 224, 224)
         for n in names]
    syn = np.fromfile(os.path.join(TESTDATA, "inputs", "synthetic-seed0-2x3x224x224.f32"), dtype="<f4")
    x += list(syn.reshape(2, 3, 224, 224))
    return names + ["synthetic-seed0-0", "synthetic-seed0-1"], np.stack(x)


def export(model, path, opset):
    model.float().eval()
    torch.onnx.export(model, torch.zeros(1, 3, 224, 224), path, opset_version=opset,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})


def external(folder, f):
    """Saves folder/f again with its tensors in an external data file, as
    onnx does for models over 2 GB; returns the new file's name."""
    ext = f.replace(".onnx", "-external.onnx")
    onnx.save_model(onnx.load(os.path.join(folder, f)), os.path.join(folder, ext), save_as_external_data=True,
                    all_tensors_to_one_file=True, location=ext + ".data", size_threshold=1024)
    return ext


def write(folder, models):
    """Exports models {name: (module, logits function, output, external)}
    into folder and writes folder/reference.json; output says what the
    file outputs ("logits" or "probabilities"); with external, the opset
    13 file is also saved with external data."""
    names, x = inputs()
    ref = {"torch": torch.__version__, "torchvision": torchvision.__version__, "inputs": names, "models": {}}
    for name, (model, logits, output, ext) in models.items():
        files = []
        for opset in OPSETS:
            f = "%s-op%d.onnx" % (name, opset)
            export(model, os.path.join(folder, f), opset)
            files.append(f)
        if ext:
            files.append(external(folder, files[1]))
        model.double().eval()
        with torch.no_grad():
            out = logits(model, torch.from_numpy(x).double()).numpy()
        ref["models"][name] = {"files": files, "output": output, "logits": [[float(v) for v in row] for row in out],
                               "top5": [[int(i) for i in np.argsort(-row, kind="stable")[:5]] for row in out]}
        model.float()
        print(name, ", ".join(files))
    with open(os.path.join(folder, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)


def main():
    torch.manual_seed(0)
    dense = torchvision.models.DenseNet(growth_rate=8, block_config=(2, 2, 2, 2), num_init_features=16,
                                        bn_size=2, num_classes=3)
    dense.load_state_dict(torch.load(os.path.join(TESTDATA, "tiny", "densenet-tiny-c3.pth")))
    ops = OpsNet()
    randomise_bn(ops)
    write(HERE, {"densenet-tiny-c3": (dense, lambda m, x: m(x), "logits", True),
                 "opsnet": (ops, lambda m, x: m.logits(x), "probabilities", False)})
    leaky = LeakyNet().eval()
    export(leaky, os.path.join(HERE, "unsupported-leakyrelu-op13.onnx"), 13)

    if "--big" in sys.argv[1:]:
        big = os.path.join(HERE, "big")
        os.makedirs(big, exist_ok=True)
        models = {}
        for name in ("resnet18", "resnet50", "resnext50_32x4d"):
            m = getattr(torchvision.models, name)()
            synthetic(m)
            models[name] = (m, lambda m, x: m(x), "logits", name == "resnet50")
        d = torchvision.models.densenet121()
        randomise_bn(d)
        models["densenet121"] = (d, lambda m, x: m(x), "logits", False)
        write(big, models)


if __name__ == "__main__":
    main()
