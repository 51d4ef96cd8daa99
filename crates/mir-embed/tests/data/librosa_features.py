"""Reference values for crates/mir-embed/tests/it.rs (MFCC, chroma, spectral statistics).

librosa 0.11.0, numpy 2.x:  python librosa_features.py > librosa_features.json
The signal is the one of librosa_logmel.json.
"""
import json

import librosa
import numpy as np

sr, n = 22050, 33075
i = np.arange(n, dtype=np.float64)
y = 0.5 * np.sin(2 * np.pi * 440 * i / sr) + 0.25 * np.sin(2 * np.pi * 1234.5 * i / sr + 0.3) * (i / n)
y[26460:] = 0.0
y = y.astype(np.float32)

FRAMES = [0, 3, 10, 40, 55, 64]


def pack(features, source):
    """features: (dims, frames). Some frames in full, and the mean/std summary."""
    features = np.asarray(features, dtype=np.float64)
    return {
        "_source": source,
        "frames": int(features.shape[1]),
        "frame_values": {str(t): features[:, t].tolist() for t in FRAMES},
        "embedding": np.concatenate([features.mean(axis=1), features.std(axis=1)]).tolist(),
    }


mfcc = librosa.feature.mfcc(y=y, sr=sr)
d1 = librosa.feature.delta(mfcc, order=1)
d2 = librosa.feature.delta(mfcc, order=2)
chroma = librosa.feature.chroma_stft(y=y, sr=sr, tuning=0.0)
# Spectral statistics weigh the spectrum's floor, so their signal has a real one: pure tones
# leave only FFT rounding noise there, which pocketfft and realfft round differently.
# An integer LCG, the same in Rust: (1103515245 i + 12345) mod 2^31, scaled to +-1e-3.
lcg = ((1103515245 * np.arange(n, dtype=np.int64) + 12345) % 2**31).astype(np.float64)
y_noisy = (y.astype(np.float64) + 2e-3 * (lcg / 2**31 - 0.5)).astype(np.float32)
S, _ = librosa.magphase(librosa.stft(y_noisy))
spectral = np.vstack([
    librosa.feature.spectral_centroid(S=S, sr=sr),
    librosa.feature.spectral_bandwidth(S=S, sr=sr),
    librosa.feature.spectral_rolloff(S=S, sr=sr),
    librosa.feature.spectral_flatness(S=S),
    librosa.feature.rms(y=y_noisy),
    librosa.feature.zero_crossing_rate(y_noisy),
])
print(json.dumps({
    "versions": {"librosa": librosa.__version__, "numpy": np.__version__},
    "mfcc": pack(np.vstack([mfcc, d1, d2]),
                 "vstack(feature.mfcc(y, sr), feature.delta(mfcc, order=1), feature.delta(mfcc, order=2))"),
    "chroma": pack(chroma, "feature.chroma_stft(y=y, sr=sr, tuning=0.0)"),
    "spectral": pack(spectral,
                     "spectral_centroid, spectral_bandwidth, spectral_rolloff, spectral_flatness of "
                     "magphase(stft(y_noisy))[0]; rms(y_noisy); zero_crossing_rate(y_noisy); "
                     "y_noisy = y + 2e-3 (lcg / 2^31 - 0.5), lcg = (1103515245 i + 12345) mod 2^31"),
}))
