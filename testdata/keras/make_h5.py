#!/usr/bin/python3
"""Writes the small HDF5 files the Go tests of resnet/keras and resnet/keras/h5 read,
and expected.json, what h5py reads back from each of them.

Run from anywhere with Debian's h5py (apt-get install python3-h5py):

    /usr/bin/python3 testdata/keras/make_h5.py

The files are written by h5py (libhdf5), never by the project's code, in the layouts
Keras uses:

- keras2-fixed.h5: Keras 2.2.4 save_weights with h5py 2, the keras-applications layout:
  fixed-length string attributes (layer_names, weight_names, backend, keras_version), one
  group per layer in model order, datasets LAYER/LAYER/VAR:0, contiguous. A tiny Keras
  ResNet v1 (stem 8 filters, blocks [1, 2, 1, 1], filters [2, 3, 4, 5], 7 classes).
  The file is made with group B-tree K = 2 and symbol-table node K = 2, so the root
  group's B-tree has several levels.
- keras215-vlen.h5: Keras 2.15 save_weights with h5py 3: variable-length string
  attributes, layers sorted by name, a top_level_model_weights group. A tiny ResNet v2
  (blocks [2, 2, 2, 2]). Every kernel is chunked (chunks that do not divide the shape,
  several levels of chunk B-tree: indexed-storage K = 2, so superblock version 1).
- keras3.weights.h5: Keras 3 save_weights: layers/NAME/vars/0, 1, ... and an empty
  root vars group; the tiny v1 network's weights.
- v2super.h5, v3super.h5: superblock versions 2 and 3 (libver v108 and latest; the
  second after a 512-byte user block, so its superblock is not at 0): version 2 object headers, link messages, a few groups of few links, contiguous and chunked
  datasets, variable-length and fixed-length attributes.
- odd.h5: what a reader must refuse or handle: a hard-link cycle, a soft link, a
  compressed dataset, float64 and int32 datasets, a scalar, an empty dataset, a huge
  unallocated chunked dataset and a huge unallocated contiguous one, an attribute split
  as Keras splits large ones (names0, names1), 40 groups with default K (two B-tree
  levels are not reached; see keras2-fixed.h5 for that).
- broken-*.h5: the tiny v1 network (its first 8 layers but for the third) with one fault
  each: a layer of layer_names without its group, a weight of weight_names that is not there, a bias of the wrong shape, every
  kernel a hard link to one 64 KiB dataset (more weights than the file holds), a NaN.
- dense.h5: a group of 20 links in new-style (dense, fractal-heap) storage, which the
  reader refuses with a clear error.

expected.json maps each file to its attributes (path -> name -> value: a string or a
list of strings) and datasets (path -> shape, dtype, sha256 of the little-endian C-order
bytes, first values), as h5py reads them.
"""

import hashlib
import json
import os

import ctypes

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def tiny_v1():
    """Layer list of a tiny Keras ResNet v1: [(name, [(var, shape)])] in model order."""
    return resnet_layers(False, 8, [1, 2, 1, 1], [2, 3, 4, 5], 7)


def tiny_v2():
    return resnet_layers(True, 8, [2, 2, 2, 2], [2, 3, 4, 5], 7)


def resnet_layers(v2, stem, blocks, filters, classes):
    """The layers of keras.applications.resnet.ResNet with its stack functions, by the
    names Keras gives them, with each layer's variables and shapes (HWIO kernels)."""
    out = [("input_1", []), ("conv1_pad", [])]

    def conv(name, k, cin, cout, bias=True):
        v = [("kernel", (k, k, cin, cout))]
        if bias:
            v.append(("bias", (cout,)))
        out.append((name, v))

    def bn(name, c):
        out.append((name, [(v, (c,)) for v in ("gamma", "beta", "moving_mean", "moving_variance")]))

    conv("conv1_conv", 7, 3, stem)
    if not v2:
        bn("conv1_bn", stem)
        out.append(("conv1_relu", []))
    out += [("pool1_pad", []), ("pool1_pool", [])]
    c = stem
    pools = 0
    for s, (n, f) in enumerate(zip(blocks, filters)):
        for b in range(n):
            p = "conv%d_block%d" % (s + 2, b + 1)
            if v2:
                bn(p + "_preact_bn", c)
                out.append((p + "_preact_relu", []))
                stride = 2 if b == n - 1 and s < 3 else 1
                if b == 0:
                    conv(p + "_0_conv", 1, c, 4 * f)
                elif stride > 1:
                    out.append(("max_pooling2d" + ("_%d" % pools if pools else ""), []))
                    pools += 1
                conv(p + "_1_conv", 1, c, f, bias=False)
                bn(p + "_1_bn", f)
                out.append((p + "_1_relu", []))
                out.append((p + "_2_pad", []))
                conv(p + "_2_conv", 3, f, f, bias=False)
                bn(p + "_2_bn", f)
                out.append((p + "_2_relu", []))
                conv(p + "_3_conv", 1, f, 4 * f)
                out.append((p + "_out", []))
            else:
                conv(p + "_1_conv", 1, c, f)
                bn(p + "_1_bn", f)
                out.append((p + "_1_relu", []))
                conv(p + "_2_conv", 3, f, f)
                bn(p + "_2_bn", f)
                out.append((p + "_2_relu", []))
                if b == 0:
                    conv(p + "_0_conv", 1, c, 4 * f)
                conv(p + "_3_conv", 1, f, 4 * f)
                if b == 0:
                    bn(p + "_0_bn", 4 * f)
                bn(p + "_3_bn", 4 * f)
                out.append((p + "_add", []))
                out.append((p + "_out", []))
            c = 4 * f
    if v2:
        bn("post_bn", c)
        out.append(("post_relu", []))
    out.append(("avg_pool", []))
    out.append(("predictions", [("kernel", (c, classes)), ("bias", (classes,))]))
    return out


def values(rng, var, shape):
    """Seeded values in the ranges of trained weights."""
    if var == "moving_variance":
        return rng.uniform(0.5, 1.5, shape).astype(np.float32)
    if var == "gamma":
        return rng.uniform(0.5, 1.5, shape).astype(np.float32)
    if var == "kernel":
        fan_in = int(np.prod(shape[:-1]))
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    return rng.uniform(-0.1, 0.1, shape).astype(np.float32)


def libhdf5():
    """The libhdf5 h5py runs on, for the property setters h5py does not wrap."""
    for line in open("/proc/self/maps"):
        lib = line.split()[-1]
        if "libhdf5" in lib and "_hl" not in lib and ".so" in lib:
            return ctypes.CDLL(lib)
    raise RuntimeError("libhdf5 is not loaded")


def create(path, sym_k=None, istore_k=None, userblock=0):
    """A new HDF5 file with the given B-tree parameters (H5Pset_sym_k, H5Pset_istore_k)."""
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    lib = libhdf5()
    if sym_k and lib.H5Pset_sym_k(ctypes.c_int64(fcpl.id), sym_k[0], sym_k[1]) < 0:
        raise RuntimeError("H5Pset_sym_k failed")
    if istore_k and lib.H5Pset_istore_k(ctypes.c_int64(fcpl.id), istore_k) < 0:
        raise RuntimeError("H5Pset_istore_k failed")
    if userblock:
        fcpl.set_userblock(userblock)
    fid = h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl)
    return h5py.File(fid)


def fixed(strings):
    """A fixed-length string array, as h5py 2 stored Keras' lists of bytes."""
    return np.array([s.encode() for s in strings], dtype="S%d" % max([1] + [len(s) for s in strings]))


def keras2_fixed(path):
    rng = np.random.default_rng(1)
    layers = tiny_v1()
    with create(path, sym_k=(2, 2)) as f:
        f.attrs["layer_names"] = fixed([n for n, _ in layers])
        f.attrs["backend"] = np.bytes_(b"tensorflow")
        f.attrs["keras_version"] = np.bytes_(b"2.2.4")
        for name, vs in layers:
            g = f.create_group(name)
            wn = ["%s/%s:0" % (name, v) for v, _ in vs]
            # Keras 2.2.4 stores an empty list as a float64 array of no elements.
            g.attrs["weight_names"] = fixed(wn) if wn else np.asarray([])
            for (v, shape), n in zip(vs, wn):
                g.create_dataset(n, data=values(rng, v, shape))


def keras215_vlen(path):
    rng = np.random.default_rng(2)
    layers = tiny_v2()
    with create(path, sym_k=(4, 4), istore_k=2) as f:
        # Keras 2.15 hands h5py 3 Python lists of bytes and bytes scalars: variable-length.
        f.attrs["layer_names"] = [n.encode() for n, _ in layers]
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.15.0"
        for name, vs in sorted(layers):
            g = f.create_group(name)
            wn = ["%s/%s:0" % (name, v) for v, _ in vs]
            g.attrs["weight_names"] = [n.encode() for n in wn]
            for (v, shape), n in zip(vs, wn):
                data = values(rng, v, shape)
                chunks = None
                if v == "kernel":
                    chunks = tuple(max(1, (d + 1) // 2) for d in shape[:-1]) + (max(1, shape[-1] // 3),)
                g.create_dataset(n, data=data, chunks=chunks)
        t = f.create_group("top_level_model_weights")
        t.attrs["weight_names"] = []


def keras3(path):
    rng = np.random.default_rng(1)  # the same values as keras2-fixed.h5
    layers = tiny_v1()
    with create(path) as f:
        f.create_group("vars")
        for name, vs in layers:
            if not vs:
                continue
            g = f.create_group("layers/" + name).create_group("vars")
            for i, (v, shape) in enumerate(vs):
                g[str(i)] = values(rng, v, shape)
        f.create_group("optimizer/vars")


def super_v2(path, libver):
    rng = np.random.default_rng(3)
    with h5py.File(path, "w", libver=libver, userblock_size=512 if libver == "latest" else 0) as f:
        f.attrs["title"] = "libver %s" % (libver,)
        f.attrs["names"] = fixed(["a", "bb", "ccc"])
        f.attrs["vnames"] = [b"x", b"yy", b"zzz"]
        a = f.create_group("a")
        a.attrs["weight_names"] = [b"a/kernel:0", b"a/bias:0"]
        a.create_dataset("a/kernel:0", data=rng.standard_normal((3, 3, 2, 4)).astype(np.float32))
        a.create_dataset("a/bias:0", data=rng.standard_normal((4,)).astype(np.float32))
        b = f.create_group("b/c/d")
        b.create_dataset("chunked", data=rng.standard_normal((5, 7)).astype(np.float32), chunks=(2, 3))
        b.create_dataset("one_chunk", data=rng.standard_normal((4, 4)).astype(np.float32), chunks=(4, 4))
        f.create_dataset("big_endian", data=rng.standard_normal((6,)).astype(">f4"))


def odd(path):
    rng = np.random.default_rng(4)
    with h5py.File(path, "w") as f:
        g = f.create_group("loop")
        g["self"] = g  # a hard link back to its own group
        g["up"] = f  # and one to the root
        f["soft"] = h5py.SoftLink("/loop")
        f.create_dataset("gzip", data=rng.standard_normal((64,)).astype(np.float32), compression="gzip")
        f.create_dataset("f64", data=rng.standard_normal((3,)))
        f.create_dataset("i32", data=np.arange(5, dtype=np.int32))
        f.create_dataset("scalar", data=np.float32(2.5))
        f.create_dataset("empty", shape=(0, 4), dtype=np.float32)
        f.create_dataset("huge_chunked", shape=(1 << 40,), dtype=np.float32, chunks=(1 << 16,))
        f.create_dataset("huge_contiguous", shape=(1 << 20, 1 << 20), dtype=np.float32)
        names = ["layer_%03d" % i for i in range(60)]
        f.attrs["names0"] = fixed(names[:30])
        f.attrs["names1"] = fixed(names[30:])
        many = f.create_group("many")
        for i in range(40):
            many.create_group("g%02d" % i)


def dense(path):
    with h5py.File(path, "w", libver="latest") as f:
        g = f.create_group("g")
        for i in range(20):
            g.create_group("child%02d" % i)


def broken(path, fault):
    """keras2-fixed.h5's network with one fault a loader must report."""
    rng = np.random.default_rng(5)
    layers = tiny_v1()
    if fault != "bad-shape":
        layers = layers[:8]  # the loader stops before it would need the rest
    with h5py.File(path, "w") as f:
        names = [n for n, _ in layers]
        if fault == "missing-layer":
            names.append("conv9_block1_1_conv")
        f.attrs["layer_names"] = fixed(names)
        f.attrs["backend"] = np.bytes_(b"tensorflow")
        f.attrs["keras_version"] = np.bytes_(b"2.2.4")
        shared = None
        for name, vs in layers:
            g = f.create_group(name)
            wn = ["%s/%s:0" % (name, v) for v, _ in vs]
            if fault == "missing-weight" and name == "conv2_block1_1_conv":
                wn.append(name + "/gamma:0")
            g.attrs["weight_names"] = fixed(wn) if wn else np.asarray([])
            for (v, shape), n in zip(vs, wn):
                if fault == "bad-shape" and name == "predictions" and v == "bias":
                    shape = (8,)
                if fault == "shared" and v == "kernel":
                    # Every kernel is a link to one big dataset.
                    if shared is None:
                        shared = f.create_dataset("big", data=np.zeros((128, 128), np.float32))
                    g[n] = shared
                    continue
                data = values(rng, v, shape)
                if fault == "nan" and name == "conv1_bn" and v == "gamma":
                    data[3] = np.nan
                g.create_dataset(n, data=data)


def describe(path):
    """What h5py reads from the file: attributes and float datasets, cycles skipped."""
    out = {"attrs": {}, "datasets": {}, "groups": []}
    seen = set()
    with h5py.File(path, "r") as f:

        def attrs(path, obj):
            a = {}
            for k in obj.attrs:
                v = obj.attrs[k]
                if isinstance(v, (bytes, np.bytes_)):
                    a[k] = v.decode()
                elif isinstance(v, str):
                    a[k] = v
                elif isinstance(v, np.ndarray) and (v.dtype.kind in "SO" or v.size == 0):
                    a[k] = [x.decode() if isinstance(x, bytes) else str(x) for x in v.tolist()]
            if a:
                out["attrs"][path] = a

        def walk(path, g):
            if g.id.__hash__() in seen:
                return
            seen.add(g.id.__hash__())
            out["groups"].append(path)
            attrs(path, g)
            for k in g:
                link = g.get(k, getlink=True)
                if not isinstance(link, h5py.HardLink):
                    continue
                child = g[k]
                p = (path.rstrip("/") + "/" + k)
                if isinstance(child, h5py.Group):
                    walk(p, child)
                elif child.dtype.kind == "f" and child.compression is None and \
                        child.size * child.dtype.itemsize < (1 << 24) and child.id.get_storage_size() > 0:
                    d = child[()].astype("<f4")
                    out["datasets"][p] = {
                        "shape": list(child.shape),
                        "dtype": child.dtype.str,
                        "chunks": list(child.chunks) if child.chunks else None,
                        "sha256": hashlib.sha256(np.ascontiguousarray(d).tobytes()).hexdigest(),
                        "first": [float(x) for x in d.reshape(-1)[:4]],
                    }
                    attrs(p, child)

        walk("/", f)
        out["superblock"] = f.id.get_create_plist().get_version()[0]
    return out


def main():
    files = {
        "keras2-fixed.h5": keras2_fixed,
        "keras215-vlen.h5": keras215_vlen,
        "keras3.weights.h5": keras3,
        "v2super.h5": lambda p: super_v2(p, ("v108", "v108")),
        "v3super.h5": lambda p: super_v2(p, "latest"),
        "odd.h5": odd,
        "dense.h5": dense,
        "broken-missing-layer.h5": lambda p: broken(p, "missing-layer"),
        "broken-missing-weight.h5": lambda p: broken(p, "missing-weight"),
        "broken-bad-shape.h5": lambda p: broken(p, "bad-shape"),
        "broken-shared.h5": lambda p: broken(p, "shared"),
        "broken-nan.h5": lambda p: broken(p, "nan"),
    }
    expected = {}
    for name, make in files.items():
        path = os.path.join(HERE, name)
        make(path)
        if name != "dense.h5" and not name.startswith("broken-"):
            expected[name] = describe(path)
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
