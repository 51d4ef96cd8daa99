#!/usr/bin/env python3
"""Export a wav2vec 2.0-style speech or music encoder from Hugging Face transformers (MERT,
wav2vec 2.0, HuBERT, WavLM, data2vec-audio) to ONNX, every hidden state one output.

What it does
------------
1. Loads ``transformers.AutoModel.from_pretrained(--weights)`` (a hub id such as
   ``m-a-p/MERT-v1-95M`` or a local folder; ``--trust-remote-code`` for MERT, whose model
   class ships with its weights) and its ``AutoFeatureExtractor``. Or, with
   ``--random-weights SEED``, a small randomly initialised ``--architecture`` (wav2vec2 or
   hubert; ``--layers`` transformer layers, default 3, of width 64) with a
   ``Wav2Vec2FeatureExtractor`` at ``--sample-rate`` (default 16000) that normalises.
2. The ONNX input is one window of the card, ``[batch, samples]`` at the extractor's rate
   (``--window-s`` seconds, default 5). The graph first does what the feature extractor does
   when ``do_normalize`` is set (MERT, wav2vec 2.0): each window to zero mean and unit
   variance, ``(x - mean) / sqrt(var + 1e-7)``; then the model's forward with
   ``output_hidden_states=True``, its group norms with float64 statistics (see
   torch_export.TwoPassGroupNorm: ONNX Runtime's float32 sums over 24,000 frames lost 1e-4).
3. Outputs ``hidden_state_0`` (the input to the first transformer layer, after the CNN and
   the positional convolution) to ``hidden_state_<L>`` (after the last layer), each
   ``[batch, frames, width]`` (frames: one per 320 samples); the card pools them over time.
4. With ``--check``: cuts the audio into the card's windows (every ``--hop-s``, the last
   zero-padded, as mir-ref does), runs the feature extractor and the model's own forward on
   each and writes every hidden state averaged over its frames.

Pinned versions used (Python 3.11.7, linux x86_64, CPU; 2026-12-01)
-------------------------------------------------------------------
    torch==2.15.0  transformers==5.24.0  onnx==1.23.2  onnxscript==0.7.2  numpy==2.4.6

How to run (MERT-v1-95M: the card configs/models/mert-v1-95m.yml)
------------------------------------------------------------------
    python3 -m venv /tmp/exportvenv
    /tmp/exportvenv/bin/pip install torch==2.15.0 transformers==5.24.0 onnx==1.23.2 \
        onnxscript==0.7.2 numpy==2.4.6 nnAudio   # nnAudio: MERT's remote code imports it
    /tmp/exportvenv/bin/python configs/models/export/transformers_encoder.py \
        --weights m-a-p/MERT-v1-95M --trust-remote-code --window-s 5 \
        --output models/mert-v1-95m/mert-v1-95m.onnx
    cargo xtask models pin mert-v1-95m
"""

import numpy as np
import torch
import transformers

import torch_export


class EncoderFromAudio(torch.nn.Module):
    """``[batch, samples]`` to every hidden state."""

    def __init__(self, model, normalize):
        super().__init__()
        self.model = model
        self.normalize = normalize

    def forward(self, audio):
        if self.normalize:
            # float64 sums, as in torch_export.TwoPassGroupNorm.
            wide = audio.double()
            d = wide - wide.mean(dim=1, keepdim=True)
            audio = (d * torch.rsqrt((d * d).mean(dim=1, keepdim=True) + 1e-7)).float()
        return tuple(self.model(audio, output_hidden_states=True).hidden_states)


def options(ap):
    ap.add_argument("--architecture", default="wav2vec2", choices=["wav2vec2", "hubert"],
                    help="with --random-weights")
    ap.add_argument("--layers", type=int, default=3, help="with --random-weights")
    ap.add_argument("--sample-rate", type=int, default=16000, help="with --random-weights")
    ap.add_argument("--trust-remote-code", action="store_true")
    ap.add_argument("--window-s", type=float, default=5.0)
    ap.add_argument("--hop-s", type=float, default=None, help="--check's hop; default the window")


def load(args):
    if args.random_weights is None:
        model = transformers.AutoModel.from_pretrained(
            args.weights, trust_remote_code=args.trust_remote_code)
        extractor = transformers.AutoFeatureExtractor.from_pretrained(
            args.weights, trust_remote_code=args.trust_remote_code)
        return model.eval(), extractor
    torch.manual_seed(args.random_weights)
    small = dict(hidden_size=64, num_hidden_layers=args.layers, num_attention_heads=4,
                 intermediate_size=128, conv_dim=(32,) * 7, num_conv_pos_embeddings=16,
                 num_conv_pos_embedding_groups=4)
    if args.architecture == "hubert":
        model = transformers.HubertModel(transformers.HubertConfig(**small))
    else:
        model = transformers.Wav2Vec2Model(transformers.Wav2Vec2Config(**small))
    extractor = transformers.Wav2Vec2FeatureExtractor(do_normalize=True,
                                                      sampling_rate=args.sample_rate)
    return model.eval(), extractor


def framework_layers(model, extractor, audio, window, hop):
    layers = {}
    for start in torch_export.window_starts(len(audio), window, hop):
        clip = np.zeros(window, dtype=np.float32)
        part = audio[start:start + window]
        clip[:len(part)] = part
        inputs = extractor(clip, sampling_rate=extractor.sampling_rate, return_tensors="pt")
        with torch.no_grad():
            states = model(inputs["input_values"], output_hidden_states=True).hidden_states
        for i, h in enumerate(states):
            layers.setdefault(f"hidden_state_{i}", []).append(h[0].mean(0).numpy())
    return {k: np.stack(v) for k, v in layers.items()}


def main():
    args = torch_export.arguments(__doc__.split("\n\n")[0], options)
    model, extractor = load(args)
    rate = extractor.sampling_rate
    window = int(round(args.window_s * rate))
    names = [f"hidden_state_{i}" for i in range(model.config.num_hidden_layers + 1)]
    wrapped = EncoderFromAudio(model, bool(getattr(extractor, "do_normalize", False)))
    print(f"{type(model).__name__}: {len(names)} hidden states of width "
          f"{model.config.hidden_size}, {window} samples at {rate} Hz per window")
    torch_export.export(wrapped, torch.zeros(2, window), args.output, names, args.opset)
    if args.check:
        hop = int(round((args.hop_s or args.window_s) * rate))
        audio = torch_export.read_audio(args.check)
        torch_export.write_check(args.check_out,
                                 framework_layers(model, extractor, audio, window, hop))


if __name__ == "__main__":
    main()
