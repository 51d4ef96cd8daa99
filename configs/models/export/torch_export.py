"""What the PyTorch export recipes share (vggish.py, openl3.py, transformers_encoder.py).

Every recipe wraps the framework's model in a module whose input is raw audio, windows of the
card's length at the card's rate, ``[batch, samples]`` (or ``[batch, 1, samples]``), so the
framework's own front end is inside the ONNX graph and the card's front end is ``waveform``.
It then exports the module with ``torch.onnx.export(dynamo=True)``: one file, opset 18, the
batch axis the symbolic dimension ``batch``, one named output per layer.

Command line (every recipe)::

    --output PATH            the .onnx file to write (its folder is created)
    --weights PATH           the real weights (see the recipe's header for where they are)
    --random-weights SEED    random weights instead, for testing the recipe
    --check AUDIO --check-out JSON
                             after exporting, run the framework's own inference on AUDIO
                             (mono float32 little-endian samples at the card's rate) and
                             write {layer: [[window values...], ...]} to JSON, the windows
                             being the card's windows in order

mir-ref's test (``xtask/tests/it/export.rs``) exports with random weights, runs the file
through the card and compares with --check's output.
"""

import argparse
import copy
import hashlib
import json
import os

import numpy as np
import torch


def arguments(description, extra=None):
    """The recipes' shared options, plus the recipe's own (``extra(parser)``)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--output", required=True, help="path of the .onnx file to write")
    source = ap.add_mutually_exclusive_group(required=True)
    source.add_argument("--weights", help="the pretrained weights file")
    source.add_argument("--random-weights", type=int, metavar="SEED",
                        help="random weights (for testing the recipe)")
    ap.add_argument("--check", help="raw float32 mono audio at the card's rate")
    ap.add_argument("--check-out", help="where --check writes the framework's embeddings")
    ap.add_argument("--opset", type=int, default=18)
    if extra is not None:
        extra(ap)
    args = ap.parse_args()
    if (args.check is None) != (args.check_out is None):
        ap.error("--check and --check-out go together")
    return args


def randomize(module, seed):
    """Seeds torch, draws convolutions and linear layers with He initialisation (so activations
    keep their scale through the network, and a tolerance of 1e-4 means something) and gives
    batch norms random running statistics and affine weights (their defaults, zero mean and
    unit variance, would hide a wrong normalisation)."""
    torch.manual_seed(seed)
    for m in module.modules():
        if isinstance(m, (torch.nn.Linear, torch.nn.modules.conv._ConvNd)):
            with torch.no_grad():
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    m.bias.normal_(0.0, 0.1)
        elif isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                m.running_mean.normal_(0.0, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                if m.affine:
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.normal_(0.0, 0.1)
    return module


class TwoPassGroupNorm(torch.nn.Module):
    """``torch.nn.GroupNorm`` with its statistics summed in float64.

    The exporter turns GroupNorm into ONNX InstanceNormalization, and ONNX Runtime's CPU
    kernels (InstanceNormalization, and ReduceMean in float32) sum float32 values along the
    axis as they come, where torch sums pairwise. Over the 24,000 frames of the first
    convolution of wav2vec 2.0 or HuBERT (a 5 s window at 24 kHz) that lost 2.7e-4 on values
    up to 9 (float64: torch's float32 is within 2e-6). Here the mean and the variance (from
    the deviations) are float64 sums; the rest stays float32.
    """

    def __init__(self, norm):
        super().__init__()
        self.groups, self.eps, self.norm = norm.num_groups, norm.eps, norm

    def forward(self, x):
        shape = x.shape
        g = x.reshape(shape[0], self.groups, -1).double()
        d = g - g.mean(dim=-1, keepdim=True)
        scale = torch.rsqrt((d * d).mean(dim=-1, keepdim=True) + self.eps)
        y = (d * scale).float().reshape(shape)
        if self.norm.affine:
            view = (1, -1) + (1,) * (len(shape) - 2)
            y = y * self.norm.weight.reshape(view) + self.norm.bias.reshape(view)
        return y


def two_pass_group_norms(module):
    """Replaces every GroupNorm inside ``module`` with :class:`TwoPassGroupNorm`."""
    for name, child in module.named_children():
        if isinstance(child, torch.nn.GroupNorm):
            setattr(module, name, TwoPassGroupNorm(child))
        else:
            two_pass_group_norms(child)
    return module


def export(module, example, output, output_names, opset):
    """Exports ``module`` (already in eval mode) with a symbolic batch axis, its group norms
    with float64 statistics (:class:`TwoPassGroupNorm`); prints and returns the file's
    SHA-256. The framework's own model, used by --check, is left as it is: export a copy."""
    module = two_pass_group_norms(copy.deepcopy(module))
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    batch = torch.export.Dim("batch", min=1, max=4096)
    with torch.no_grad():
        program = torch.onnx.export(
            module.eval(),
            (example,),
            input_names=["audio"],
            output_names=list(output_names),
            dynamic_shapes=({0: batch},),
            opset_version=opset,
            dynamo=True,
            external_data=False,
        )
    program.save(output, external_data=False)
    with open(output, "rb") as f:
        data = f.read()
    sha = hashlib.sha256(data).hexdigest()
    print(f"wrote {output} ({len(data):,} bytes), sha256 {sha}")
    return sha


def read_audio(path):
    """Mono float32 samples from a raw little-endian file."""
    return np.fromfile(path, dtype="<f4")


def window_starts(length, window, hop):
    """mir-ref's windows: every hop until a window reaches the end (at least one)."""
    starts = [0]
    while starts[-1] + window < length:
        starts.append(starts[-1] + hop)
    return starts


def write_check(path, layers):
    """Writes {layer: [windows][values]} as JSON (float64 text of the float32 values)."""
    out = {name: np.asarray(v, dtype=np.float32).reshape(len(v), -1).tolist()
           for name, v in layers.items()}
    with open(path, "w") as f:
        json.dump(out, f)
    print(f"wrote {path}: " + ", ".join(f"{k} {np.shape(v)}" for k, v in out.items()))
