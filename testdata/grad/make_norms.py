#!/usr/bin/python3
"""PyTorch autograd goldens for `resnet-gpu gradients`.

Reads the files `resnet-gpu gradients --export DIR` writes (one per network:
a JSON header line, then the input and every tensor as little-endian
float32; our He initialisation, so the weights are ours but every gradient
below is PyTorch's), builds the network in PyTorch — torchvision's
resnet18/34/50, or He et al.'s CIFAR ResNet from torchvision's BasicBlock;
the plain networks are the same modules with the identity paths and the
projection shortcuts removed — in float64 and training mode (batch
statistics), runs F.cross_entropy on the labels backward and records, per
convolution and the fc layer in forward order, the L2 norm of the weight's
gradient and of the gradient at the layer's output.

    resnet-gpu gradients --arch resnet18 --size 32 --compare-plain --export /tmp/g testdata/images
    /usr/bin/python3 testdata/grad/make_norms.py /tmp/g/resnet18.bin /tmp/g/plain18.bin > testdata/grad/norms_resnet18_32.json
"""
import json
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models.resnet import BasicBlock, Bottleneck


def plain_forward(self, x):
    """A block without its identity path: relu(F(x))."""
    out = self.relu(self.bn1(self.conv1(x)))
    if isinstance(self, Bottleneck):
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)))
    return self.relu(self.bn2(self.conv2(out)))


class CifarResNet(nn.Module):
    """He et al.'s CIFAR ResNet-(6n+2), projection shortcuts (option B)."""

    def __init__(self, n, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        inp = 16
        for s, planes in enumerate((16, 32, 64)):
            blocks = []
            for b in range(n):
                stride = 2 if s > 0 and b == 0 else 1
                down = None
                if stride != 1 or inp != planes:
                    down = nn.Sequential(nn.Conv2d(inp, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
                blocks.append(BasicBlock(inp, planes, stride, down))
                inp = planes
            setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def build(arch, plain):
    if arch in ("resnet18", "resnet34", "resnet50"):
        model = getattr(torchvision.models, arch)()
    else:
        model = CifarResNet((int(arch[len("resnet"):]) - 2) // 6)
    if plain:
        for m in model.modules():
            if isinstance(m, (BasicBlock, Bottleneck)):
                m.downsample = None
                m.forward = plain_forward.__get__(m)
    return model


def norms(path):
    with open(path, "rb") as f:
        head = json.loads(f.readline())
        data = np.frombuffer(f.read(), dtype="<f4").astype(np.float64)
    n = int(np.prod(head["input_shape"]))
    x = torch.tensor(data[:n]).reshape(head["input_shape"])
    off = n
    state = {}
    for t in head["tensors"]:
        k = int(np.prod(t["shape"]))
        state[t["name"]] = torch.tensor(data[off:off + k]).reshape(t["shape"])
        off += k
    if off != len(data):
        sys.exit(f"{path}: {len(data) - off} values left over")
    model = build(head["arch"], head["plain"]).double().train()
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not k.endswith(("running_mean", "running_var", "num_batches_tracked")) for k in missing):
        sys.exit(f"{path}: state_dict mismatch: missing {missing}, unexpected {unexpected}")
    outs = []
    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            def hook(mod, inp, out, name=name):
                out.retain_grad()
                outs.append((name, mod, out))
            m.register_forward_hook(hook)
    loss = F.cross_entropy(model(x), torch.tensor(head["labels"]))
    loss.backward()
    layers = [{"name": name, "weight_grad_norm": mod.weight.grad.norm().item(),
               "activation_grad_norm": out.grad.norm().item()} for name, mod, out in outs]
    return head, {"name": head["name"], "loss": loss.item(), "layers": layers}


def main():
    report = {"torch": torch.__version__}
    for path in sys.argv[1:]:
        head, net = norms(path)
        for k in ("arch", "size", "seed", "images", "labels"):
            report[k] = head[k]
        report["plain" if head["plain"] else "resnet"] = net
    json.dump(report, sys.stdout, indent=1)
    print()


main()
