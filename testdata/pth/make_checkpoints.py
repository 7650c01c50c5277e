"""Small real torch.save files in the checkpoint layouts that LoadFile accepts or refuses.

Writes testdata/pth/ckpt-*.pth and testdata/pth/checkpoints.json. The
state_dict in them is the stem of a torchvision resnet18 (conv1.weight and
bn1.*, a real nn.Module's state_dict() with its _metadata) or, for the
DenseNet file, a few densenet121 entries, all with the synthetic-v1 seed-0
values of their torchvision names (testdata/SYNTHETIC.md, made by
../models/synthetic_v1.py):

    ckpt-bare.zip.pth               the state_dict itself
    ckpt-state_dict.zip.pth         {"state_dict": sd}
    ckpt-model.zip.pth              {"model": sd}
    ckpt-model_state_dict.zip.pth   {"model_state_dict": sd}
    ckpt-training.zip.pth           {"epoch": 3, "optimizer": SGD state_dict
                                     (with momentum buffers), "state_dict": sd}
    ckpt-training.legacy.pth        the same, _use_new_zipfile_serialization=False
    ckpt-dataparallel.zip.pth       nn.DataParallel(stem).state_dict(): "module." names
    ckpt-lightning.zip.pth          {"epoch", "global_step", "state_dict"} with
                                    "model." names (a LightningModule holding .model)
    ckpt-densenet-legacy.zip.pth    densenet121 entries under torchvision's old
                                    names (denselayer1.norm.1.weight, ...), no
                                    num_batches_tracked, like its old files
    ckpt-module.zip.pth             torch.save(torchvision BasicBlock(4, 4)): refused
    ckpt-module.legacy.pth          the same in the legacy format: refused
    ckpt-wrapped-module.zip.pth     {"epoch": 3, "model": BasicBlock}: refused
    ckpt-ambiguous.zip.pth          {"state_dict": sd, "model": sd}: refused
    ckpt-no-state-dict.zip.pth      {"epoch": 3, "optimizer": ...}: refused

checkpoints.json: {"torch", "spec", "seed", "files": {FILE: {"format": "zip" |
"legacy", "layout": ..., "want": "state_dict" | "module" | "ambiguous" |
"none", and for "state_dict": "keys": [[torchvision name, shape, dtype]...]
(the canonical entries LoadFile should return), "saved_names": [names as in
the file], "first": {name: [first 3 values]}; for "module": "class"; for
"ambiguous" and "none": "top_keys"}}.

Run from the repository root:

    /usr/bin/python3 testdata/pth/make_checkpoints.py

Made with Debian 12's python3-torch 1.13 / python3-torchvision 0.14. The
content is deterministic; the bytes of the legacy files are not, since that
format names storages by their memory address.
"""
import collections
import copy
import json
import os
import sys

import torch
import torchvision
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "models"))
import synthetic_v1  # noqa: E402

SEED = 0
torch.manual_seed(SEED)


def synthetic(module):
    """Loads synthetic-v1 values into module; returns its state_dict()."""
    module.load_state_dict(synthetic_v1.state_dict(module, SEED))
    return module.state_dict()


def stem():
    """conv1 and bn1 of a torchvision resnet18, as a real module."""
    r = torchvision.models.resnet18(weights=None)
    m = nn.Module()
    m.conv1, m.bn1 = r.conv1, r.bn1
    synthetic(m)
    return m


def densenet_legacy():
    """features.norm0 and denselayer1's norm1, conv1, norm2 of densenet121,
    under the old names that torchvision's densenet _load_state_dict renames;
    and the torchvision names."""
    d = torchvision.models.densenet121(weights=None)
    want = ("features.norm0.", "features.denseblock1.denselayer1.norm1.",
            "features.denseblock1.denselayer1.conv1.", "features.denseblock1.denselayer1.norm2.")
    full = synthetic_v1.state_dict(d, SEED)
    canon = collections.OrderedDict((k, v) for k, v in full.items()
                                    if k.startswith(want) and not k.endswith("num_batches_tracked"))
    old = collections.OrderedDict()
    for k, v in canon.items():
        for n in ("norm1", "conv1", "norm2"):
            k = k.replace(f".{n}.", f".{n[:-1]}.{n[-1]}.")
        old[k] = v
    return old, canon


def optimizer(module):
    """A real SGD state_dict with momentum buffers after one step, over a
    copy of module's batch norm (so that module's own values stay synthetic)."""
    bn = copy.deepcopy(module.bn1)
    opt = torch.optim.SGD(bn.parameters(), lr=0.1, momentum=0.9)
    bn(torch.randn(2, 64, 3, 3)).square().mean().backward()
    opt.step()
    return opt.state_dict()


def main():
    s = stem()
    sd = s.state_dict()
    dp = nn.DataParallel(s).state_dict()
    lightning = nn.Module()
    lightning.model = s
    block = torchvision.models.resnet.BasicBlock(4, 4)
    block_class = "torchvision.models.resnet.BasicBlock"
    opt = optimizer(s)
    legacy, canon = densenet_legacy()

    files = collections.OrderedDict()

    def save(name, obj, layout, want, legacy_format=False, **info):
        torch.save(obj, os.path.join(HERE, name), _use_new_zipfile_serialization=not legacy_format)
        files[name] = {"format": "legacy" if legacy_format else "zip", "layout": layout, "want": want, **info}

    def state(canonical, saved):
        return {"keys": [[k, list(v.shape), str(v.dtype)] for k, v in canonical.items()],
                "saved_names": list(saved),
                "first": {k: v.flatten()[:3].tolist() for k, v in canonical.items()}}

    save("ckpt-bare.zip.pth", sd, "state_dict", "state_dict", **state(sd, sd))
    for key in ("state_dict", "model", "model_state_dict"):
        save(f"ckpt-{key}.zip.pth", {key: sd}, f'{{"{key}": state_dict}}', "state_dict", **state(sd, sd))
    training = {"epoch": 3, "optimizer": opt, "state_dict": sd}
    layout = '{"epoch": 3, "optimizer": SGD state_dict, "state_dict": state_dict}'
    save("ckpt-training.zip.pth", training, layout, "state_dict", **state(sd, sd))
    save("ckpt-training.legacy.pth", training, layout, "state_dict", legacy_format=True, **state(sd, sd))
    save("ckpt-dataparallel.zip.pth", dp, "nn.DataParallel state_dict, module. names", "state_dict",
         **state(sd, dp))
    save("ckpt-lightning.zip.pth", {"epoch": 3, "global_step": 30, "state_dict": lightning.state_dict()},
         '{"epoch", "global_step", "state_dict": state_dict with model. names}', "state_dict",
         **state(sd, lightning.state_dict()))
    save("ckpt-densenet-legacy.zip.pth", legacy, "densenet state_dict with torchvision's old names",
         "state_dict", **state(canon, legacy))
    save("ckpt-module.zip.pth", block, "torch.save(BasicBlock(4, 4))", "module", **{"class": block_class})
    save("ckpt-module.legacy.pth", block, "torch.save(BasicBlock(4, 4))", "module", legacy_format=True,
         **{"class": block_class})
    save("ckpt-wrapped-module.zip.pth", {"epoch": 3, "model": block}, '{"epoch": 3, "model": BasicBlock}',
         "module", **{"class": block_class, "under": "model"})
    save("ckpt-ambiguous.zip.pth", {"state_dict": sd, "model": sd}, '{"state_dict": sd, "model": sd}',
         "ambiguous", top_keys=["state_dict", "model"])
    save("ckpt-no-state-dict.zip.pth", {"epoch": 3, "optimizer": opt}, '{"epoch": 3, "optimizer": ...}',
         "none", top_keys=["epoch", "optimizer"])

    for name in files:
        size = os.path.getsize(os.path.join(HERE, name))
        assert size < 100_000, (name, size)
        print(f"{name}: {size} bytes")
    head = {"torch": torch.__version__, "torchvision": torchvision.__version__, "spec": "synthetic-v1",
            "seed": SEED}
    with open(os.path.join(HERE, "checkpoints.json"), "w") as f:  # one line per file
        f.write(json.dumps(head)[:-1] + ', "files": {\n')
        f.write(",\n".join(f"{json.dumps(n)}: {json.dumps(e)}" for n, e in files.items()))
        f.write("\n}}\n")


if __name__ == "__main__":
    main()
