#!/usr/bin/env python3
"""Export VGGish (Hershey et al., "CNN architectures for large-scale audio classification",
ICASSP 2017) from torchvggish to ONNX, its log-mel front end included.

What it does
------------
1. Builds ``torchvggish``'s VGG (``torchvggish._vgg(postprocess=False)``) and loads the
   weights: ``--weights vggish-10086976.pth``, the port of the AudioSet TensorFlow checkpoint
   that torchvggish itself downloads,
   https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth
   (Apache-2.0, as Google's original), or ``--random-weights SEED``.
2. Wraps it with VGGish's front end as torch operations, so the ONNX input is 15,600 samples
   at 16 kHz (0.975 s: 96 frames of 25 ms every 10 ms) and the graph computes what
   ``torchvggish.vggish_input.waveform_to_examples`` does with numpy
   (``mel_features.log_mel_spectrogram``): frames of 400 samples every 160, a periodic Hann
   window, the magnitude of a 512-point FFT (a matrix product with the DFT's cosines and
   sines), VGGish's own HTK-style mel matrix of 64 bands from 125 to 7500 Hz
   (``mel_features.spectrogram_to_mel_matrix``, baked in), then ``ln(mel + 0.01)``.
   Consecutive examples start 15,360 samples (0.96 s) apart, as the card's hop.
3. Exports (see torch_export.py) with these outputs, one value vector per window:

   ==========  =====  ==========================================================
   name        width  what
   ==========  =====  ==========================================================
   fc1         4096   first fully connected layer, after its ReLU
   fc2         4096   second fully connected layer, after its ReLU
   embedding   128    the VGGish embedding (``VGG.forward`` without postprocessing)
   ==========  =====  ==========================================================

   AudioSet's released embeddings add a PCA whitening and 8-bit quantisation
   (``torchvggish.Postprocessor``); like the paper's Essentia VGGish we do not.

4. With ``--check``: runs torchvggish itself, ``waveform_to_examples(audio, 16000)`` then
   the VGG's forward, and writes the three layers per example (torchvggish drops a trailing
   partial example; mir-ref zero-pads it, so compare the first windows).

Pinned versions used (Python 3.11.7, linux x86_64, CPU; 2026-12-01)
-------------------------------------------------------------------
    torch==2.15.0  torchvggish==0.2  onnx==1.23.2  onnxscript==0.7.2  numpy==2.4.6
    resampy==0.2.2  soundfile==0.14.0

How to run
----------
    python3 -m venv /tmp/exportvenv
    /tmp/exportvenv/bin/pip install torch==2.15.0 torchvggish==0.2 onnx==1.23.2 \
        onnxscript==0.7.2 numpy==2.4.6
    curl -LO https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth
    /tmp/exportvenv/bin/python configs/models/export/vggish.py \
        --weights vggish-10086976.pth --output models/vggish/vggish.onnx
    cargo xtask models pin vggish
"""

import math

import numpy as np
import torch
import torchvggish
from torchvggish import mel_features, vggish_params as p

import torch_export

RATE = p.SAMPLE_RATE
FRAME = int(round(RATE * p.STFT_WINDOW_LENGTH_SECONDS))  # 400
HOP = int(round(RATE * p.STFT_HOP_LENGTH_SECONDS))  # 160
FFT = 2 ** int(math.ceil(math.log2(FRAME)))  # 512
WINDOW = (p.NUM_FRAMES - 1) * HOP + FRAME  # 15,600 samples: one example
EXAMPLE_HOP = int(round(p.EXAMPLE_HOP_SECONDS / p.STFT_HOP_LENGTH_SECONDS)) * HOP  # 15,360
LAYERS = ["fc1", "fc2", "embedding"]


class VGGishFromAudio(torch.nn.Module):
    """VGGish with its front end: ``[batch, 15600]`` samples to the three layers."""

    def __init__(self, vgg):
        super().__init__()
        self.vgg = vgg
        n = np.arange(FRAME)
        k = np.arange(FFT // 2 + 1)
        hann = mel_features.periodic_hann(FRAME)
        angle = 2 * np.pi * np.outer(n, k) / FFT
        self.register_buffer("cos", torch.tensor(hann[:, None] * np.cos(angle), dtype=torch.float32))
        self.register_buffer("sin", torch.tensor(hann[:, None] * np.sin(angle), dtype=torch.float32))
        mel = mel_features.spectrogram_to_mel_matrix(
            num_mel_bins=p.NUM_MEL_BINS, num_spectrogram_bins=FFT // 2 + 1,
            audio_sample_rate=RATE, lower_edge_hertz=p.MEL_MIN_HZ,
            upper_edge_hertz=p.MEL_MAX_HZ)
        self.register_buffer("mel", torch.tensor(mel, dtype=torch.float32))

    def forward(self, audio):
        frames = audio.unfold(1, FRAME, HOP)  # [batch, 96, 400]
        magnitude = torch.sqrt((frames @ self.cos) ** 2 + (frames @ self.sin) ** 2)
        log_mel = torch.log(magnitude @ self.mel + p.LOG_OFFSET)  # [batch, 96, 64]
        x = self.vgg.features(log_mel[:, None])
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # VGG.forward's transposes
        e = self.vgg.embeddings
        fc1 = torch.relu(e[0](x))
        fc2 = torch.relu(e[2](fc1))
        return fc1, fc2, torch.relu(e[4](fc2))


def load(args):
    vgg = torchvggish.torchvggish._vgg(postprocess=False)
    if args.random_weights is not None:
        torch_export.randomize(vgg, args.random_weights)
    else:
        vgg.load_state_dict(torch.load(args.weights, map_location="cpu"))
    return vgg.eval()


def framework_layers(vgg, audio):
    """torchvggish's own path: numpy examples, then VGG.forward (fc layers from hooks)."""
    examples = torchvggish.vggish_input.waveform_to_examples(audio.astype(np.float64), RATE)
    seen = {}
    hooks = [vgg.embeddings[i].register_forward_hook(
        lambda _m, _i, out, name=name: seen.__setitem__(name, out.clone()))
        for i, name in [(1, "fc1"), (3, "fc2")]]
    with torch.no_grad():
        seen["embedding"] = vgg(examples.detach())
    for h in hooks:
        h.remove()
    return {name: seen[name].numpy() for name in LAYERS}


def main():
    args = torch_export.arguments(__doc__.split("\n\n")[0])
    vgg = load(args)
    torch_export.export(VGGishFromAudio(vgg), torch.zeros(2, WINDOW), args.output, LAYERS,
                        args.opset)
    if args.check:
        torch_export.write_check(args.check_out,
                                 framework_layers(vgg, torch_export.read_audio(args.check)))


if __name__ == "__main__":
    main()
