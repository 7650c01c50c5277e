"""Checks that a .pth written by `resnet-gpu finetune` loads in real PyTorch
and records PyTorch's logits for it, the reference the Go test
(cmd/resnet-gpu/train_test.go, TestFinetuneTorch) compares our classify
against.

tiny-ft.pth is `resnet-gpu finetune` on the tiny DenseNet of testdata/tiny
(the base) and testdata/finetune/data, on the CPU path, with the flags in
tiny-ft.json's "command". This script:

  - torch.load(weights_only=True)s it (the restricted unpickler: only
    tensors, storages, OrderedDict) and load_state_dict(strict=True)s it
    into torchvision's DenseNet(growth_rate=8, block_config=(2, 2, 2, 2),
    num_init_features=16, bn_size=2, num_classes=3);
  - checks that every backbone tensor equals the base's bit for bit, and
    that the head has the new shape;
  - runs model.double().eval() on the four preprocessed fixture images
    ../inputs/NAME.3x224x224.f32 and writes their logits to tiny-ft.json.

Run from the repository root with Debian's python3-torch 1.13 /
python3-torchvision 0.14:

    /usr/bin/python3 testdata/finetune/check_torch.py [PTH]

With a PTH of another architecture (resnet18 ... resnet152 by its
state_dict) it only loads it into torchvision's model and prints the
logits of the first image.
"""
import hashlib
import json
import os
import sys

import numpy as np
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.dirname(HERE)
COMMAND = ("finetune --device cpu --weights testdata/tiny/densenet-tiny-c3.pth --data testdata/finetune/data "
           "--epochs 10 --optimizer adam --lr 0.1 --seed 1 --out testdata/finetune/tiny-ft.pth")


def inputs():
    with open(os.path.join(TESTDATA, "reference.json")) as f:
        images = json.load(f)["images"]
    x = np.stack([np.fromfile(os.path.join(TESTDATA, "inputs", n.rsplit(".", 1)[0] + ".3x224x224.f32"), dtype="<f4")
                  .reshape(3, 224, 224) for n in images])
    return images, torch.from_numpy(x)


def other(path):
    sd = torch.load(path, weights_only=True)
    classes, features = sd["fc.weight"].shape
    blocks = {k.split(".")[0]: int(k.split(".")[1]) + 1 for k in sd if k.startswith("layer")}
    bottleneck = any("conv3" in k for k in sd)
    block = torchvision.models.resnet.Bottleneck if bottleneck else torchvision.models.resnet.BasicBlock
    model = torchvision.models.ResNet(block, [blocks["layer%d" % i] for i in range(1, 5)], num_classes=classes)
    model.load_state_dict(sd, strict=True)
    images, x = inputs()
    with torch.no_grad():
        print(images[0], model.double().eval()(x[:1].double()).numpy().tolist())


def main():
    if len(sys.argv) > 1:
        return other(sys.argv[1])
    path = os.path.join(HERE, "tiny-ft.pth")
    sd = torch.load(path, weights_only=True)
    base = torch.load(os.path.join(TESTDATA, "tiny", "densenet-tiny-c3.pth"), weights_only=True)
    model = torchvision.models.DenseNet(growth_rate=8, block_config=(2, 2, 2, 2), num_init_features=16,
                                        bn_size=2, num_classes=3)
    model.load_state_dict(sd, strict=True)
    assert list(sd) == list(model.state_dict()), "entries not in torchvision's order"
    for k, v in base.items():
        if not k.startswith("classifier."):
            assert torch.equal(sd[k], v) and sd[k].dtype == v.dtype, k
    assert sd["classifier.weight"].shape == (3, model.classifier.in_features)
    assert not torch.equal(sd["classifier.weight"], base["classifier.weight"])
    images, x = inputs()
    with torch.no_grad():
        logits = model.double().eval()(x.double()).numpy()
    with open(os.path.join(HERE, "tiny-ft.labels.txt")) as f:
        labels = f.read().split()
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    out = {"torch": torch.__version__, "torchvision": torchvision.__version__, "command": COMMAND,
           "pth_sha256": digest, "labels": labels, "images": images,
           "image_logits": [[float(v) for v in row] for row in logits],
           "image_top1": [int(np.argmax(row)) for row in logits]}
    with open(os.path.join(HERE, "tiny-ft.json"), "w") as f:
        json.dump(out, f, indent=1)
    print("loaded with weights_only=True, strict; backbone unchanged; logits written to tiny-ft.json")
    for name, row in zip(images, out["image_logits"]):
        print(" ", name, [round(v, 5) for v in row], labels[int(np.argmax(row))])


main()
