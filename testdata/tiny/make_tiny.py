"""A tiny fine-tuned-style DenseNet checkpoint and PyTorch's float64 logits for it.

torchvision's DenseNet class with a small configuration (growth 8, blocks
2,2,2,2, 16 initial features, bn_size 2) and a 3-class head: what a
fine-tuned model looks like to the loader (a head that is not ImageNet's,
a configuration inferred from the state_dict), in 115 KB. Weights are
torch's own initialisation under torch.manual_seed(0), with the batch-norm
statistics and affine parameters randomised so no batch-norm is the
identity. Writes, beside this file:

  densenet-tiny-c3.pth     torch.save(model.state_dict()) (zip format)
  densenet-tiny-c3.txt     labels, one per line
  densenet-tiny-c3.json    float64 logits of model.double().eval() for the
                           four preprocessed images ../inputs/NAME.3x224x224.f32
                           (order of ../reference.json "images")

Run from the repository root with Debian's python3-torch 1.13 /
python3-torchvision 0.14:

    /usr/bin/python3 testdata/tiny/make_tiny.py
"""
import json
import os

import numpy as np
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.dirname(HERE)

torch.manual_seed(0)
model = torchvision.models.DenseNet(growth_rate=8, block_config=(2, 2, 2, 2), num_init_features=16,
                                    bn_size=2, num_classes=3)
with torch.no_grad():
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.2, 0.2)
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
model.eval()
torch.save(model.state_dict(), os.path.join(HERE, "densenet-tiny-c3.pth"))
with open(os.path.join(HERE, "densenet-tiny-c3.txt"), "w") as f:
    f.write("tabby\nespresso\nrocket\n")

with open(os.path.join(TESTDATA, "reference.json")) as f:
    images = json.load(f)["images"]
x = np.stack([np.fromfile(os.path.join(TESTDATA, "inputs", n.rsplit(".", 1)[0] + ".3x224x224.f32"), dtype="<f4")
              .reshape(3, 224, 224) for n in images])
with torch.no_grad():
    logits = model.double()(torch.from_numpy(x).double()).numpy()
out = {"torch": torch.__version__, "torchvision": torchvision.__version__, "images": images,
       "image_logits": [[float(v) for v in row] for row in logits],
       "image_top1": [int(np.argmax(row)) for row in logits]}
with open(os.path.join(HERE, "densenet-tiny-c3.json"), "w") as f:
    json.dump(out, f, indent=1)
