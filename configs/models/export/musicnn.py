#!/usr/bin/env python3
"""Export a pretrained MusiCNN (Pons & Serra, "musicnn: pre-trained convolutional neural
networks for music audio tagging", ISMIR 2019 LBD) TensorFlow checkpoint to ONNX.

What it does
------------
1. Rebuilds musicnn's TF1 graph (``musicnn.models.define_model``, the same function that
   ``musicnn.extractor.extractor`` calls) in inference mode (batch norm uses its moving
   statistics, dropout is the identity) for an input of shape ``[batch, 187, 96]``.
2. Restores the checkpoint that the ``musicnn`` wheel itself ships (``musicnn/<MODEL>/``),
   so nothing is downloaded besides the PyPI packages below.
3. Freezes the variables and converts the graph with tf2onnx, naming the ONNX tensors:

   ==============  =====================  =========================================
   name            shape                  what
   ==============  =====================  =========================================
   melspectrogram  [batch, 187, 96]       input: log-compressed mel patch (see below)
   timbral         [batch, 187, 408]      front end, timbral (7x38 and 7x67) filters
   temporal        [batch, 187, 153]      front end, temporal (128/64/32x1) filters
   cnn1            [batch, 187, 64, 1]    mid end, conv layer 1
   cnn2            [batch, 187, 64, 1]    mid end, conv layer 2 (+ residual)
   cnn3            [batch, 187, 64, 1]    mid end, conv layer 3 (+ residual)
   mean_pool       [batch, 753]           back end, mean over time of the dense features
   max_pool        [batch, 753]           back end, max over time of the dense features
   penultimate     [batch, 200]           back end, dense layer after batch norm
   logits          [batch, 50]            back end, output layer before the sigmoid
   taggram         [batch, 50]            sigmoid(logits): tag probabilities
   ==============  =====================  =========================================

   (The "features" dict of ``musicnn.extractor.extractor`` holds the same layers under the
   same names; ``taggram`` is its first return value.)  The tag order is
   ``musicnn.configuration.MTT_LABELS`` for MTT_* models and ``MSD_LABELS`` for MSD_*.

4. With ``--verify``: synthesises a 10-second test signal, runs ``musicnn.extractor.extractor``
   (the package's own TF inference, including its librosa front end) on it, feeds the same
   patches (from ``musicnn.extractor.batch_data``) to the ONNX model with onnxruntime and
   prints the max absolute difference per output.

Front end (what the ONNX input expects; from musicnn/configuration.py and extractor.py)
---------------------------------------------------------------------------------------
* audio: mono, resampled to 16 000 Hz (``librosa.load(path, sr=16000)``)
* ``librosa.feature.melspectrogram(y, sr=16000, n_fft=512, hop_length=256, n_mels=96)``
  with librosa's defaults: periodic Hann window, ``center=True`` (librosa >= 0.10 pads with
  zeros, ``pad_mode='constant'``; the librosa 0.6/0.7 that musicnn was released with used
  ``'reflect'``), power 2.0, Slaney mel scale (``htk=False``) with Slaney area norm, fmin 0,
  fmax 8000.  Transposed to ``[frames, 96]``.
* the mel power is cast to **float16** and then ``log10(10000 * x + 1)`` (computed in float16
  too, then fed as float32).
* patches: ``n_frames = librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1
  = 187`` frames (about 3 s); the default hop between patches is also 187 frames (no
  overlap); only whole patches are used (a trailing remainder is dropped).
* no mean/std normalisation outside the graph (the graph starts with a batch norm).

Pinned versions used (Python 3.11.7, linux x86_64, CPU only)
------------------------------------------------------------
    musicnn==0.1.0        (installed with --no-deps: its metadata pins numpy<1.17)
    tensorflow-cpu==2.21.0
    tf-keras==2.21.0      (tf.compat.v1.layers needs Keras 2: TF_USE_LEGACY_KERAS=1, set below;
                           tf-keras pulls tensorflow==2.21.0 in beside tensorflow-cpu)
    tf2onnx==1.17.0
    onnx==1.23.2
    onnxruntime==1.32.0
    numpy==2.4.6
    librosa==0.11.0
    protobuf==7.36.2

How to run
----------
    python3 -m venv /tmp/exportvenv
    /tmp/exportvenv/bin/pip install tensorflow-cpu==2.21.0 tf-keras==2.21.0 tf2onnx==1.17.0 \
        onnx==1.23.2 onnxruntime==1.32.0 numpy==2.4.6 librosa==0.11.0 protobuf==7.36.2
    /tmp/exportvenv/bin/pip install --no-deps musicnn==0.1.0
    /tmp/exportvenv/bin/python configs/models/export/musicnn.py \
        --model MTT_musicnn --output /tmp/export_out/musicnn-mtt.onnx --verify

``--output`` is the path of the .onnx file to write (its folder is created).  ``--model`` is
``MTT_musicnn`` (default) or ``MSD_musicnn`` (the two musicnn checkpoints in the wheel;
``MSD_musicnn_big`` is not in the wheel, and the VGG baselines have other outputs).
``--opset`` defaults to 17.
"""

import argparse
import hashlib
import os
import sys
import tempfile

# This file is named musicnn.py: drop its own folder from sys.path so that `import musicnn`
# finds the PyPI package, not this script.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

# tf.compat.v1.layers (used by musicnn.models) is only available with Keras 2 (tf-keras).
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()

from musicnn import configuration as config  # noqa: E402
from musicnn import models  # noqa: E402

N_FRAMES = 187
MODELS = ("MTT_musicnn", "MSD_musicnn")
OUTPUTS = ("timbral", "temporal", "cnn1", "cnn2", "cnn3", "mean_pool", "max_pool",
           "penultimate", "logits", "taggram")
INPUT = "melspectrogram"


def checkpoint_prefix(model):
    # musicnn's extractor restores from os.path.dirname(__file__) + '/' + model + '/'
    return os.path.join(os.path.dirname(models.__file__), model) + "/"


def build_frozen_graph(model):
    """Builds the inference graph, restores the wheel's checkpoint, returns a frozen GraphDef."""
    labels = config.MTT_LABELS if model.startswith("MTT") else config.MSD_LABELS
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, N_FRAMES, config.N_MELS], name=INPUT)
        # training=False (a Python bool): batch norm uses the moving averages, dropout is a
        # no-op; variable names are the same as with extractor's is_training placeholder.
        (logits, timbral, temporal, cnn1, cnn2, cnn3, mean_pool, max_pool,
         penultimate) = models.define_model(x, False, model, len(labels))
        taggram = tf.nn.sigmoid(logits)
        for name, t in zip(OUTPUTS, (timbral, temporal, cnn1, cnn2, cnn3, mean_pool, max_pool,
                                     penultimate, logits, taggram)):
            tf.identity(t, name=name)
        config_proto = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1,
                                                inter_op_parallelism_threads=1)
        with tf.compat.v1.Session(graph=graph, config=config_proto) as sess:
            saver = tf.compat.v1.train.Saver()
            saver.restore(sess, checkpoint_prefix(model))
            frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
                sess, graph.as_graph_def(), list(OUTPUTS))
    return frozen


def export(model, output, opset):
    import tf2onnx

    frozen = build_frozen_graph(model)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    rename = {INPUT + ":0": INPUT}
    rename.update({name + ":0": name for name in OUTPUTS})
    model_proto, _ = tf2onnx.convert.from_graph_def(
        frozen,
        name="musicnn_" + model,
        input_names=[INPUT + ":0"],
        output_names=[name + ":0" for name in OUTPUTS],
        opset=opset,
        tensors_to_rename=rename,
        output_path=output,
    )
    return model_proto


def describe(path):
    import onnxruntime as ort

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    for io, items in (("input", sess.get_inputs()), ("output", sess.get_outputs())):
        for item in items:
            print(f"  {io:6s} {item.name:15s} {item.type:16s} {item.shape}")


def synth_signal(sr, seconds, seed=0):
    """A deterministic test signal: harmonic chord, a chirp, clicks and a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    y = np.zeros_like(t)
    for f0, amp in ((110.0, 0.3), (220.0 * 1.26, 0.2), (330.0, 0.15)):
        for h in range(1, 6):
            y += amp / h * np.sin(2 * np.pi * f0 * h * t)
    y += 0.2 * np.sin(2 * np.pi * (200.0 * t + 300.0 * t ** 2))
    clicks = np.zeros_like(t)
    clicks[:: sr // 2] = 1.0
    y += 0.5 * np.convolve(clicks, np.exp(-np.arange(400) / 40.0), mode="same")
    y += 0.02 * rng.standard_normal(len(t))
    # Peak 0.05: musicnn computes 10000 * mel in float16, which overflows to inf (and the
    # model's outputs to NaN) wherever the mel power exceeds 65504 / 10000 = 6.55; a loud
    # test signal would compare NaN with NaN.
    return (0.05 * y / np.max(np.abs(y))).astype(np.float32)


def verify(model, path, seconds=10.0):
    import onnxruntime as ort
    import soundfile as sf
    from musicnn import extractor

    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "synth.wav")
        sf.write(wav, synth_signal(config.SR, seconds), config.SR, subtype="FLOAT")
        taggram, _, features = extractor.extractor(wav, model=model, input_length=3,
                                                   input_overlap=False, extract_features=True)
        batch, _ = extractor.batch_data(wav, N_FRAMES, N_FRAMES)

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    out = dict(zip(names, sess.run(None, {INPUT: batch.astype(np.float32)})))
    n = batch.shape[0]
    print(f"verify: {n} patches of {batch.shape[1:]} from a {seconds:.0f} s synthetic signal")
    worst = 0.0
    ref = {"taggram": taggram}
    for k in ("timbral", "temporal"):           # extractor: squeeze + concat over time
        ref[k] = features[k]
        out[k] = out[k].reshape(-1, out[k].shape[-1])
    for k in ("mean_pool", "max_pool", "penultimate"):
        ref[k] = features[k]
    for k in ("cnn1", "cnn2", "cnn3"):
        # musicnn 0.1.0's extractor only fills these correctly for the first patch (its loop
        # over later patches reuses the first patch's cnn arrays), so compare patch 0 only.
        ref[k] = features[k][:N_FRAMES]
        out[k] = out[k][0].squeeze(-1)
    for k in ref:
        d = float(np.max(np.abs(np.asarray(ref[k], np.float32) - out[k])))
        worst = max(worst, d) if np.isfinite(d) else float("inf")
        print(f"  {k:12s} shape {tuple(out[k].shape)!s:16s} max|tf - onnx| = {d:.3e}")
    print(f"verify: worst max abs difference {worst:.3e}")
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="MTT_musicnn", choices=MODELS)
    ap.add_argument("--output", required=True, help="path of the .onnx file to write")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--verify", action="store_true",
                    help="compare with musicnn.extractor on a synthetic signal (tol 1e-4)")
    args = ap.parse_args()

    export(args.model, args.output, args.opset)
    with open(args.output, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print(f"wrote {args.output}\nsha256 {digest}")
    describe(args.output)
    if args.verify and verify(args.model, args.output) > 1e-4:
        sys.exit("verify: difference above 1e-4")


if __name__ == "__main__":
    main()
