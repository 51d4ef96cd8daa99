"""Reference values for crates/mir-deform/tests/it.rs.

Run with scipy 1.17.1, librosa 0.11.0, numpy 2.x:
    python reference.py > reference.json
"""
import json

import librosa
import numpy as np
import scipy
import scipy.signal

SR = 22050


def butter_impulse(order, cutoff, kind, n=48):
    sos = scipy.signal.butter(order, cutoff, btype=kind, fs=SR, output="sos")
    x = np.zeros(n)
    x[0] = 1.0
    return scipy.signal.sosfilt(sos, x).tolist()


def stretch_input():
    # 0.5 s: two partials with a rising envelope, so phases and magnitudes both move.
    t = np.arange(SR // 2) / SR
    y = 0.5 * np.sin(2 * np.pi * 440 * t) + 0.3 * np.sin(2 * np.pi * 1234.5 * t) * (t / t[-1])
    return y.astype(np.float32)


out = {
    "versions": {"scipy": scipy.__version__, "librosa": librosa.__version__, "numpy": np.__version__},
    # scipy.signal.sosfilt(scipy.signal.butter(order, cutoff, btype, fs=22050, output="sos"), impulse)
    "butter": [
        {"order": 3, "cutoff": 1000.0, "kind": "lowpass", "impulse": butter_impulse(3, 1000.0, "lowpass")},
        {"order": 4, "cutoff": 2000.0, "kind": "highpass", "impulse": butter_impulse(4, 2000.0, "highpass")},
    ],
    # librosa.effects.time_stretch(stretch_input() as float64, rate=rate): every 25th sample and the length
    "time_stretch": [],
}
for rate in (1.25, 0.8):
    # The f32 input, processed in f64 (as mir-deform does), so only rounding differs.
    y = librosa.effects.time_stretch(stretch_input().astype(np.float64), rate=rate)
    out["time_stretch"].append({"rate": rate, "len": len(y), "every_25th": y[::25].astype(float).tolist()})
print(json.dumps(out))
