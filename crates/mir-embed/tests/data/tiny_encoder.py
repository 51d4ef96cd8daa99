"""A tiny transformer-shaped ONNX encoder for the dynamic-window, layer-axis and constant-input
vocabulary of model cards (crates/mir-embed/tests/it/onnx.rs).

Run with onnx 1.23.2 and numpy 2.4:
    python tiny_encoder.py   # writes tiny_encoder.onnx and tiny_encoder.json here

Inputs: `audio` float [batch, samples] (any length), `sample_rate` int64 [] and `mask` int64
[batch, samples]. The audio is multiplied by the mask and by sample_rate / 16000 (so both
constants must be 16000 and ones for the plain result), cut into frames of 4 samples by a
strided convolution (8 channels), and passed through two tanh layers:
    h0 = conv(x)           [batch, T, 8], T = (samples - 4) // 4 + 1
    h1 = tanh(h0 W1 + b1)
    h2 = tanh(h1 W2 + b2)
Outputs: `hidden_states` [3, batch, T, 8] (the three stacked, layer axis 0) and
`hidden_state_0`..`hidden_state_2` [batch, T, 8]. tiny_encoder.json holds the weights, from
which the test computes the expected embeddings itself.
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
CHANNELS, KERNEL = 8, 4


def weights():
    rng = np.random.default_rng(17)
    f = lambda *shape: rng.normal(0, 0.5, shape).astype(np.float32)
    return {"w0": f(CHANNELS, 1, KERNEL), "b0": f(CHANNELS), "w1": f(CHANNELS, CHANNELS),
            "b1": f(CHANNELS), "w2": f(CHANNELS, CHANNELS), "b2": f(CHANNELS)}


def model(w):
    inputs = [
        helper.make_tensor_value_info("audio", TensorProto.FLOAT, ["batch", "samples"]),
        helper.make_tensor_value_info("sample_rate", TensorProto.INT64, []),
        helper.make_tensor_value_info("mask", TensorProto.INT64, ["batch", "samples"]),
    ]
    hidden = ["batch", "frames", CHANNELS]
    outputs = [helper.make_tensor_value_info("hidden_states", TensorProto.FLOAT, [3] + hidden)]
    outputs += [helper.make_tensor_value_info(f"hidden_state_{i}", TensorProto.FLOAT, hidden)
                for i in range(3)]
    init = [numpy_helper.from_array(v, k) for k, v in w.items()]
    init += [numpy_helper.from_array(np.array(16000.0, np.float32), "rate0"),
             numpy_helper.from_array(np.array([1], np.int64), "ax1"),
             numpy_helper.from_array(np.array([0], np.int64), "ax0")]
    n = helper.make_node
    nodes = [
        n("Cast", ["sample_rate"], ["rate"], to=TensorProto.FLOAT),
        n("Div", ["rate", "rate0"], ["scale"]),
        n("Cast", ["mask"], ["maskf"], to=TensorProto.FLOAT),
        n("Mul", ["audio", "maskf"], ["masked"]),
        n("Mul", ["masked", "scale"], ["x"]),
        n("Unsqueeze", ["x", "ax1"], ["x3"]),
        n("Conv", ["x3", "w0", "b0"], ["c"], strides=[KERNEL], kernel_shape=[KERNEL]),
        n("Transpose", ["c"], ["h0"], perm=[0, 2, 1]),
        n("MatMul", ["h0", "w1"], ["m1"]), n("Add", ["m1", "b1"], ["a1"]), n("Tanh", ["a1"], ["h1"]),
        n("MatMul", ["h1", "w2"], ["m2"]), n("Add", ["m2", "b2"], ["a2"]), n("Tanh", ["a2"], ["h2"]),
    ]
    for i in range(3):
        nodes += [n("Unsqueeze", [f"h{i}", "ax0"], [f"s{i}"]),
                  n("Identity", [f"h{i}"], [f"hidden_state_{i}"])]
    nodes.append(n("Concat", ["s0", "s1", "s2"], ["hidden_states"], axis=0))
    graph = helper.make_graph(nodes, "tiny_encoder", inputs, outputs, initializer=init)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)],
                          producer_name="mir-ref tests")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def main():
    w = weights()
    onnx.save(model(w), os.path.join(HERE, "tiny_encoder.onnx"))
    json.dump({
        "generator": f"tiny_encoder.py, numpy {np.__version__} default_rng(17), onnx "
                     f"{onnx.__version__}",
        **{k: v.astype(float).tolist() for k, v in w.items()},
    }, open(os.path.join(HERE, "tiny_encoder.json"), "w"))


if __name__ == "__main__":
    main()
