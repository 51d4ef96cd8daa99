#!/usr/bin/env python3
"""Export OpenL3 (Cramer et al., "Look, listen, and learn more: design choices for deep audio
embeddings", ICASSP 2019) from torchopenl3 to ONNX, its spectrogram front end included.

What it does
------------
1. Builds ``torchopenl3.models.PytorchOpenl3`` for ``--input-repr`` (mel256, the default,
   mel128 or linear), ``--content-type`` (music or env) and ``--embedding-size`` (512 or
   6144), and loads the weights: ``--weights`` is the file torchopenl3 downloads for that
   variant, https://github.com/torchopenl3/torchopenl3-models/raw/master/torchopenl3_<repr>_<content>_<size>.pth.tar
   (for the card: ``torchopenl3_mel256_music_512.pth.tar``; torchopenl3 publishes its port under
   Apache-2.0, openl3 its original weights under MIT),
   or ``--random-weights SEED``.
2. The ONNX input is one second at 48 kHz, ``[batch, 48000]``; the graph is torchopenl3's
   whole forward: its kapre-0.1.4-style STFT (DFT as a convolution), the HTK mel matrix,
   decibels relative to each window's maximum (floored at -80 dB), the convolutions and the
   final max pooling.
3. One output, ``embedding`` (512 or 6144 values per window).
4. With ``--check``: runs ``torchopenl3.get_audio_embedding(audio, 48000, model,
   center=False, hop_size=HOP)`` on the audio, HOP the card's hop (0.5 s). Its windows are
   mir-ref's: every hop until one reaches the end, the last zero-padded. (torchopenl3's
   default ``center=True`` also pads half a window of zeros in front.)

Pinned versions used (Python 3.11.7, linux x86_64, CPU; 2026-12-01)
-------------------------------------------------------------------
    torch==2.15.0  torchopenl3==1.0.1  onnx==1.23.2  onnxscript==0.7.2  numpy==2.4.6
    librosa==0.11.0  resampy==0.2.2  setuptools<80 (resampy 0.2.2 imports pkg_resources)

How to run
----------
    python3 -m venv /tmp/exportvenv
    /tmp/exportvenv/bin/pip install torch==2.15.0 torchopenl3==1.0.1 onnx==1.23.2 \
        onnxscript==0.7.2 numpy==2.4.6 "setuptools<80"
    curl -LO https://github.com/torchopenl3/torchopenl3-models/raw/master/torchopenl3_mel256_music_512.pth.tar
    /tmp/exportvenv/bin/python configs/models/export/openl3.py \
        --weights torchopenl3_mel256_music_512.pth.tar --output models/openl3/openl3-mel256-music-512.onnx
    cargo xtask models pin openl3-mel256-music-512
"""

import numpy as np
import torch
import torchopenl3
from torchopenl3.models import PytorchOpenl3

import torch_export

RATE = 48000
HOP_S = 0.5


class OpenL3FromAudio(torch.nn.Module):
    """``[batch, 48000]`` samples to the embedding."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, audio):
        return self.model(audio[:, None, :])


def options(ap):
    ap.add_argument("--input-repr", default="mel256", choices=["mel256", "mel128", "linear"])
    ap.add_argument("--content-type", default="music", choices=["music", "env"])
    ap.add_argument("--embedding-size", type=int, default=512, choices=[512, 6144])


def load(args):
    model = PytorchOpenl3(args.content_type, args.input_repr, args.embedding_size)
    if args.random_weights is not None:
        torch_export.randomize(model, args.random_weights)
    else:
        model.load_state_dict(torch.load(args.weights, map_location="cpu"))
    return model.eval()


def framework_layers(model, audio):
    embedding, _ = torchopenl3.get_audio_embedding(
        audio.astype(np.float64), RATE, model=model, center=False, hop_size=HOP_S,
        verbose=False)
    return {"embedding": embedding[0].numpy()}


def main():
    args = torch_export.arguments(__doc__.split("\n\n")[0], options)
    model = load(args)
    torch_export.export(OpenL3FromAudio(model), torch.zeros(2, RATE), args.output,
                        ["embedding"], args.opset)
    if args.check:
        torch_export.write_check(args.check_out,
                                 framework_layers(model, torch_export.read_audio(args.check)))


if __name__ == "__main__":
    main()
