"""Reference outputs of basic-pitch 0.4.0's nmp.onnx for crates/mir-embed/tests/onnx.rs.

Run with onnxruntime 1.32.0 and numpy (any recent version):
    pip download --no-deps basic-pitch==0.4.0   # then unzip nmp.onnx from the wheel
    python basic_pitch_reference.py path/to/nmp.onnx > basic_pitch_reference.json

The signals are defined here and in the Rust test identically (f64 arithmetic, then f32).
"""
import json
import sys

import numpy as np
import onnxruntime

SR = 22050
WINDOW = 43844
HOP = 36164
NOTES = [40, 45, 50, 55, 57, 60, 62, 64, 67, 69, 72, 76, 79, 84]
MELODY = [60, 64, 67, 72, 69]


def tone(midi, n, offset=0):
    """A harmonic tone: 8 partials at 1/k, 10 ms attack, exponential decay (0.8 s)."""
    f0 = 440.0 * 2.0 ** ((midi - 69) / 12.0)
    t = np.arange(n, dtype=np.float64) / SR
    x = np.zeros(n)
    for k in range(1, 9):
        if k * f0 < SR / 2:
            x += np.sin(2 * np.pi * k * f0 * t) / k
    env = np.minimum(t / 0.01, 1.0) * np.exp(-t / 0.8)
    return 0.3 * x * env


def note(midi):
    return tone(midi, SR).astype(np.float32)


def melody():
    seg = SR  # one second per note
    return np.concatenate([tone(m, seg) for m in MELODY]).astype(np.float32)


def windows(x):
    starts = [0]
    while starts[-1] + WINDOW < len(x):
        starts.append(starts[-1] + HOP)
    out = np.zeros((len(starts), WINDOW, 1), dtype=np.float32)
    for i, s in enumerate(starts):
        w = x[s:s + WINDOW]
        out[i, :len(w), 0] = w
    return out


def main():
    session = onnxruntime.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
    names = {"note": "StatefulPartitionedCall:1", "onset": "StatefulPartitionedCall:2",
             "contour": "StatefulPartitionedCall:0"}

    def run(x):
        outs = session.run(list(names.values()), {"serving_default_input_2:0": windows(x)})
        return dict(zip(names, outs))

    result = {
        "generator": f"onnxruntime {onnxruntime.__version__}, numpy {np.__version__}, "
                     "basic-pitch 0.4.0 nmp.onnx; InferenceSession.run, CPUExecutionProvider",
        "notes": [],
    }
    for m in NOTES:
        o = run(note(m))
        result["notes"].append({
            "midi": m,
            # Mean over time (axis 1) of the single window.
            **{k: v[0].mean(axis=0).astype(float).round(7).tolist() for k, v in o.items()},
        })
    o = run(melody())
    result["melody"] = {
        "midi": MELODY,
        "windows": int(o["note"].shape[0]),
        **{k: v.mean(axis=1).astype(float).round(7).tolist() for k, v in o.items()},
        # Every 37th raw value of the note output of window 1 (frames x 88, row-major).
        "note_raw_window1_every37": o["note"][1].reshape(-1)[::37].astype(float).round(7).tolist(),
    }
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
