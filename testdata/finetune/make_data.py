"""Builds testdata/finetune/data: a small ImageFolder dataset of crops of the
fixture images (testdata/images), one class per source image, 10 crops each
at 64x64 as JPEG. Deterministic: /usr/bin/python3 testdata/finetune/make_data.py"""
import os
import random

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "images")
CLASSES = {"cat": "chelsea.png", "coffee": "coffee.png", "rocket": "rocket.jpg"}
PER_CLASS, SIZE = 10, 64

rng = random.Random(0)
for name, src in sorted(CLASSES.items()):
    img = Image.open(os.path.join(SRC, src)).convert("RGB")
    w, h = img.size
    out = os.path.join(HERE, "data", name)
    os.makedirs(out, exist_ok=True)
    for i in range(PER_CLASS):
        s = int(min(w, h) * rng.uniform(0.4, 0.7))
        x, y = rng.randrange(0, w - s + 1), rng.randrange(0, h - s + 1)
        crop = img.crop((x, y, x + s, y + s)).resize((SIZE, SIZE), Image.BILINEAR)
        crop.save(os.path.join(out, "%s-%02d.jpg" % (name, i)), quality=85)
