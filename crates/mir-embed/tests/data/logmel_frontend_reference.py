"""A tiny ONNX model and librosa reference values for the log-mel front end of model cards
(crates/mir-embed/tests/it/onnx.rs).

Run with onnx 1.23.2, librosa 0.11.0 and numpy:
    python logmel_frontend_reference.py   # writes tiny_logmel.onnx and logmel_frontend.json here

tiny_logmel.onnx takes `spec` [batch, frames, 96] and returns it as `frames_out` (Identity) and
its mean over frames as `band_means` [batch, 96]: the model's outputs are the front end's tensor.
"""
import json
import os

import librosa
import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
SR = 16000


def signal():
    """0.5 s of 440 Hz plus 0.25 of 1000 Hz at phase 0.3, then 0.5 s of silence (f64, then f32)."""
    t = np.arange(SR, dtype=np.float64)
    y = 0.5 * np.sin(2 * np.pi * 440 * t / SR) + 0.25 * np.sin(2 * np.pi * 1000 * t / SR + 0.3)
    y[SR // 2:] = 0.0
    return y.astype(np.float32)


def model():
    spec = helper.make_tensor_value_info("spec", TensorProto.FLOAT, ["batch", "frames", 96])
    frames = helper.make_tensor_value_info("frames_out", TensorProto.FLOAT, ["batch", "frames", 96])
    means = helper.make_tensor_value_info("band_means", TensorProto.FLOAT, ["batch", 96])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    graph = helper.make_graph(
        [helper.make_node("Identity", ["spec"], ["frames_out"]),
         helper.make_node("ReduceMean", ["spec", "axes"], ["band_means"], keepdims=0)],
        "tiny_logmel", [spec], [frames, means], initializer=[axes])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)],
                          producer_name="mir-ref tests")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def main():
    onnx.save(model(), os.path.join(HERE, "tiny_logmel.onnx"))
    s = librosa.feature.melspectrogram(y=signal(), sr=SR, n_fft=512, hop_length=256, n_mels=96)
    # MusiCNN's scaling: log10(1 + 10000 x); frames x bands.
    x = np.log10(1 + 10000 * s).T
    json.dump({
        "generator": f"librosa {librosa.__version__}: log10(1 + 10000 * "
                     "librosa.feature.melspectrogram(y, sr=16000, n_fft=512, hop_length=256, "
                     "n_mels=96)).T",
        "frames": int(x.shape[0]),
        "frame_5": x[5].astype(float).round(6).tolist(),
        "band_means": x.mean(axis=0).astype(float).round(6).tolist(),
    }, open(os.path.join(HERE, "logmel_frontend.json"), "w"))


if __name__ == "__main__":
    main()
