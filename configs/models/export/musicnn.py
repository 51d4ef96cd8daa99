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

   The graph is made reproducible byte for byte (see make_tf2onnx_deterministic() and
   canonicalize()): node, initializer and intermediate tensor names are canonical
   (``n<i>_<OpType>``, ``w<i>``, ``t<i>``), not TF's.  Opset 17 (plus ai.onnx.ml 2, which
   tf2onnx always declares); the batch axis is the symbolic dimension ``batch``.

4. With ``--verify``: synthesises a 10-second test signal (peak 0.05), runs
   ``musicnn.extractor.extractor`` (the package's own TF inference, including its librosa
   front end) on it, feeds the same patches (from ``musicnn.extractor.batch_data``) to the
   ONNX model with onnxruntime, also runs the frozen TF graph on the whole batch, and prints
   max|tf - onnx| per output.  It fails when max|tf - onnx| / max(1, max|tf|) > 1e-4.

Results on this recipe's pinned versions (2026-11-25, x86_64 CPU)
-----------------------------------------------------------------
    MTT_musicnn -> sha256 84445c4301024ebd0c37d6d54b1745b992229d02e65444b0440a7979ec9dc817
                   (3,161,091 bytes); largest max|tf - onnx|: 7.1e-05 (cnn3, values up to 32);
                   taggram 2.4e-07, penultimate 1.3e-06
    MSD_musicnn -> sha256 948488503a3b7e6ba6a9b357cc221f731cc91a6fbae2b4e14bd47e2e2da61942
                   (3,161,092 bytes); largest max|tf - onnx|: 2.4e-04 (cnn3, values up to 66,
                   i.e. 3.6e-06 relative); taggram 5.7e-07, penultimate 3.8e-06
    Repeated exports gave the same bytes (MTT 16 runs, MSD 10 runs).  Without the two fixes
    for determinism, tf2onnx 1.17 produced at least two different graphs (75 or 76 nodes)
    across runs.

Caveats found while writing this
--------------------------------
* musicnn 0.1.0's front end under numpy >= 2: ``10000 * x`` is computed in float16 (max
  65504), so every mel bin whose power exceeds 6.55 becomes ``inf`` (a 0.5-amplitude 110 Hz
  sine already does; loud music will).  Numpy 1.x (which musicnn pins) promotes to float32
  and does not overflow.  With ``inf`` in the input, TF gives finite but meaningless outputs
  while onnxruntime gives NaN from cnn1 on.  That is why --verify uses a quiet signal (its
  input patches come from musicnn.extractor.batch_data under numpy 2, i.e. float16 logs).
  A port that wants musicnn's original numbers should do: mel power (float32) -> round to
  float16 -> back to float32 -> log10(10000 * x + 1) in float32.
* ``musicnn.extractor.extractor`` (0.1.0) returns wrong ``cnn1``/``cnn2``/``cnn3`` and
  ``penultimate`` features for every patch after the first (its loop re-appends the first
  patch's arrays); ``taggram``, ``timbral``, ``temporal``, ``mean_pool`` and ``max_pool`` are
  right.  The ONNX model gives every output for every patch.

Front end (what the ONNX input expects; from musicnn/configuration.py and extractor.py)
---------------------------------------------------------------------------------------
* audio: mono, resampled to 16 000 Hz (``librosa.load(path, sr=16000)``)
* ``librosa.feature.melspectrogram(y, sr=16000, n_fft=512, hop_length=256, n_mels=96)``
  with librosa's defaults: periodic Hann window, ``center=True`` (librosa >= 0.10 pads with
  zeros, ``pad_mode='constant'``; the librosa 0.6/0.7 that musicnn was released with used
  ``'reflect'``), power 2.0, Slaney mel scale (``htk=False``) with Slaney area norm, fmin 0,
  fmax 8000.  Transposed to ``[frames, 96]``.
* the mel power is cast to **float16** (rounded), then ``log10(10000 * x + 1)``.  With the
  numpy musicnn pins (<1.17; also checked with numpy 1.26.4) ``float16_array * 10000`` is
  promoted to float32, so the log is computed in float32 from the float16-rounded power.
  With numpy >= 2 (NEP 50 promotion, as in this recipe's venv) it stays float16: the result
  is rounded to float16 and overflows (see Caveats).
* patches: ``n_frames = librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1
  = 187`` frames (about 3 s); the default hop between patches is also 187 frames (no
  overlap); only whole patches are used (a trailing remainder is dropped).
* no mean/std normalisation outside the graph (the graph starts with a batch norm).

Pinned versions used (Python 3.11.7, linux x86_64, CPU only)
------------------------------------------------------------
    musicnn==0.1.0        (installed with --no-deps: its metadata pins numpy<1.17; wheel
                           sha256 f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa)
    tensorflow-cpu==2.21.0
    tf-keras==2.21.0      (tf.compat.v1.layers needs Keras 2: TF_USE_LEGACY_KERAS=1, set below;
                           tf-keras pulls tensorflow==2.21.0 in beside tensorflow-cpu)
    tf2onnx==1.17.0
    onnx==1.23.2
    onnxruntime==1.32.0
    numpy==2.4.6
    librosa==0.11.0
    protobuf==7.36.2
    soundfile==0.14.0, scipy==1.17.1, soxr==1.1.0 (librosa's, for --verify)

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

# tf2onnx's graph optimisers iterate over Python sets and dicts keyed by strings, so the
# structure they produce (which transposes survive) depends on string hashing: re-run this
# script with a fixed hash seed.  make_tf2onnx_deterministic() fixes the hashing of tf2onnx's
# Node objects, and canonicalize() then fixes names and node order.
if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:])

# tf.compat.v1.layers (used by musicnn.models) is only available with Keras 2 (tf-keras).
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnx.numpy_helper  # noqa: E402
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


def canonicalize(model_proto, batch_dim="batch"):
    """Makes tf2onnx's output byte-for-byte reproducible.

    tf2onnx 1.17's optimisers (transpose push-down, constant de-duplication) keep whichever of
    several equivalent nodes they meet first, so node and initializer names (and node order)
    change from run to run even with PYTHONHASHSEED fixed, while the computation is the same.
    This gives every node a Merkle hash (op type, attributes, hashes of its inputs; an
    initializer hashes its dtype, dims and data), sorts the nodes topologically with ties
    broken by that hash, and renames everything but the graph's inputs and outputs in that
    order: nodes ``n<i>_<OpType>``, initializers ``w<i>``, intermediate tensors ``t<i>``.
    The batch dimension of inputs and outputs is named ``batch_dim``.
    """
    import heapq

    g = model_proto.graph
    keep = {v.name for v in g.input} | {v.name for v in g.output}
    h = {"": "-"}
    for init in g.initializer:
        data = onnx.numpy_helper.to_array(init)
        h[init.name] = hashlib.sha256(
            f"init|{init.data_type}|{list(init.dims)}|".encode() + data.tobytes()).hexdigest()
    for v in g.input:
        h.setdefault(v.name, hashlib.sha256(b"input|" + v.name.encode()).hexdigest())
    nodes = list(g.node)
    for n in nodes:
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
               for a in n.attribute):
            raise RuntimeError("subgraphs are not supported by canonicalize()")
    producer = {o: k for k, n in enumerate(nodes) for o in n.output}
    node_hash = {}

    def hash_node(k):
        stack = [k]
        while stack:
            j = stack[-1]
            missing = [producer[x] for x in nodes[j].input
                       if x not in h and producer[x] not in node_hash]
            if missing:
                stack.extend(missing)
                continue
            stack.pop()
            if j in node_hash:
                continue
            n = nodes[j]
            attrs = b"".join(a.SerializeToString()
                             for a in sorted(n.attribute, key=lambda a: a.name))
            base = hashlib.sha256(n.op_type.encode() + b"|" + n.domain.encode() + b"|" + attrs
                                  + "|".join(h[x] for x in n.input).encode()).hexdigest()
            node_hash[j] = base
            for i, o in enumerate(n.output):
                h[o] = hashlib.sha256(f"{base}:{i}".encode()).hexdigest()

    for k in range(len(nodes)):
        hash_node(k)

    # Kahn's algorithm, ready nodes popped in hash order.
    consumers = {}
    indeg = {}
    for k, n in enumerate(nodes):
        deps = {producer[x] for x in n.input if x in producer}
        indeg[k] = len(deps)
        for d in deps:
            consumers.setdefault(d, []).append(k)
    ready = [(node_hash[k], k) for k in indeg if indeg[k] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, k = heapq.heappop(ready)
        order.append(k)
        for c in consumers.get(k, []):
            indeg[c] -= 1
            if indeg[c] == 0:
                heapq.heappush(ready, (node_hash[c], c))
    assert len(order) == len(nodes)

    init_names = {i.name for i in g.initializer}
    rename = {}
    for i, k in enumerate(order):
        n = nodes[k]
        for x in n.input:
            if x in init_names and x not in rename and x not in keep:
                rename[x] = f"w{len([v for v in rename.values() if v[0] == 'w'])}"
        for o in n.output:
            if o not in keep:
                rename[o] = f"t{len([v for v in rename.values() if v[0] == 't'])}"
        n.name = f"n{i}_{n.op_type}"
    sorted_nodes = [nodes[k] for k in order]
    for n in sorted_nodes:
        n.input[:] = [rename.get(x, x) for x in n.input]
        n.output[:] = [rename.get(x, x) for x in n.output]
    del g.node[:]
    g.node.extend(sorted_nodes)
    inits = list(g.initializer)
    for init in inits:
        init.name = rename.get(init.name, init.name)
    del g.initializer[:]
    g.initializer.extend(sorted(inits, key=lambda i: int(i.name[1:]) if i.name[1:].isdigit()
                                else -1))
    del g.value_info[:]
    for v in list(g.input) + list(g.output):
        dims = v.type.tensor_type.shape.dim
        if len(dims) and dims[0].HasField("dim_param"):
            dims[0].dim_param = batch_dim
    return model_proto


def make_tf2onnx_deterministic():
    """tf2onnx keeps Node objects in sets (e.g. the transpose optimiser's set(node.inputs),
    Graph._output_to_consumers), and a plain object hashes by its memory address, so the
    order in which it rewrites nodes, and thus the optimised graph's structure, can change
    from run to run.  Hash each Node by a creation counter instead (with PYTHONHASHSEED=0 for
    the string-keyed sets and dicts, the whole conversion is then replayed identically)."""
    import itertools

    from tf2onnx import graph as tf2onnx_graph

    node_cls = tf2onnx_graph.Node
    if getattr(node_cls, "_deterministic_hash", False):
        return
    counter = itertools.count()
    original_init = node_cls.__init__

    def __init__(self, *args, **kwargs):
        self._creation_index = next(counter)
        original_init(self, *args, **kwargs)

    node_cls.__init__ = __init__
    node_cls.__hash__ = lambda self: self._creation_index
    node_cls._deterministic_hash = True


def export(model, output, opset):
    import tf2onnx

    make_tf2onnx_deterministic()
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
    )
    model_proto = canonicalize(model_proto)
    onnx.checker.check_model(model_proto, full_check=True)
    onnx.save(model_proto, output)
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


def run_frozen_tf(frozen, batch):
    """Runs the frozen TF graph (the one handed to tf2onnx) on a batch of patches."""
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(frozen, name="")
        with tf.compat.v1.Session(graph=graph) as sess:
            vals = sess.run([name + ":0" for name in OUTPUTS], {INPUT + ":0": batch})
    return dict(zip(OUTPUTS, vals))


def verify(model, path, seconds=10.0):
    """Compares the ONNX model (onnxruntime, CPU) with TensorFlow; returns the worst max abs
    difference over (a) musicnn.extractor.extractor's outputs and (b) the frozen TF graph's
    outputs for every patch and every output."""
    import onnxruntime as ort
    import soundfile as sf
    from musicnn import extractor

    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "synth.wav")
        sf.write(wav, synth_signal(config.SR, seconds), config.SR, subtype="FLOAT")
        taggram, _, features = extractor.extractor(wav, model=model, input_length=3,
                                                   input_overlap=False, extract_features=True)
        batch, _ = extractor.batch_data(wav, N_FRAMES, N_FRAMES)
    batch = batch.astype(np.float32)

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    onnx_out = dict(zip(names, sess.run(None, {INPUT: batch})))
    n = batch.shape[0]
    print(f"verify: {n} patches of {batch.shape[1:]} from a {seconds:.0f} s synthetic signal, "
          f"input range [{batch.min():.3f}, {batch.max():.3f}]")
    worst = 0.0

    def report(what, k, ref, got):
        # worst is max|tf - onnx| / max(1, max|tf|): an absolute difference for outputs of
        # magnitude <= 1 (taggram), relative to the output's largest value above that (mid-end
        # activations reach ~66, where float32 round-off alone is ~1e-5 per operation).
        nonlocal worst
        d = float(np.max(np.abs(np.asarray(ref, np.float32) - got)))
        rel = d / max(1.0, float(np.max(np.abs(ref))))
        worst = max(worst, rel) if np.isfinite(d) else float("inf")
        scale = float(np.max(np.abs(ref)))
        print(f"  {what:9s} {k:12s} shape {tuple(got.shape)!s:18s} max|tf - onnx| = {d:.3e}"
              f"  (max|tf| = {scale:.3g})")

    # (a) musicnn.extractor.extractor (batch size 1 per patch, features squeezed/concatenated).
    # musicnn 0.1.0's extractor only fills cnn1..3 and penultimate correctly for the first
    # patch (its loop over later patches re-appends the first patch's arrays), so those are
    # compared on patch 0 only.
    report("extractor", "taggram", taggram, onnx_out["taggram"])
    for k in ("timbral", "temporal"):
        report("extractor", k, features[k], onnx_out[k].reshape(-1, onnx_out[k].shape[-1]))
    for k in ("mean_pool", "max_pool"):
        report("extractor", k, features[k], onnx_out[k])
    report("extractor", "penultimate", features["penultimate"][:1], onnx_out["penultimate"][:1])
    for k in ("cnn1", "cnn2", "cnn3"):
        report("extractor", k, features[k][:N_FRAMES], onnx_out[k][0].squeeze(-1))
    # (b) the frozen TF graph, whole batch, every output.
    tf_out = run_frozen_tf(build_frozen_graph(model), batch)
    for k in OUTPUTS:
        report("frozen-tf", k, tf_out[k], onnx_out[k])
    print(f"verify: worst max|tf - onnx| / max(1, max|tf|) = {worst:.3e}")
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="MTT_musicnn", choices=MODELS)
    ap.add_argument("--output", required=True, help="path of the .onnx file to write")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--verify", action="store_true",
                    help="compare with musicnn.extractor and the frozen TF graph on a "
                         "synthetic signal; fails if max|tf - onnx| / max(1, max|tf|) > 1e-4")
    args = ap.parse_args()

    export(args.model, args.output, args.opset)
    with open(args.output, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print(f"wrote {args.output}\nsha256 {digest}")
    describe(args.output)
    if args.verify and verify(args.model, args.output) > 1e-4:
        sys.exit("verify: difference above tolerance 1e-4")


if __name__ == "__main__":
    main()
