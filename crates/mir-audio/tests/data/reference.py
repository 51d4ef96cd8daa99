"""The MP3 fixture of crates/mir-audio/tests/it.rs and its reference decode.

Run from this folder with a Python that has numpy and soundfile, and Debian's `lame` on the
PATH: it writes `gapless.mp3` (LAME 3.100, with its Info tag declaring the encoder delay and
padding) and `gapless.json`, libsndfile's decode of it (mpg123, gapless). Both are committed,
so the tests need neither lame nor Python.
"""
import json, subprocess, numpy as np, soundfile as sf

SR, FRAMES = 44_100, 44_100 * 3 // 2  # 1.5 s: not a whole number of 1,152-sample MP3 frames
t = np.arange(FRAMES) / SR
rng = np.random.default_rng(7)
env = np.minimum(1.0, t * 20) * np.exp(-1.5 * t)
left = sum(0.3 / k * np.sin(2 * np.pi * 220 * k * t) for k in range(1, 6)) * env
right = sum(0.3 / k * np.sin(2 * np.pi * 330 * k * t + k) for k in range(1, 6)) * env
noise = 0.02 * rng.standard_normal((FRAMES, 2))
stereo = np.stack([left, right], axis=1) + noise
sf.write("gapless.wav", stereo.astype(np.float32), SR, subtype="PCM_16")
subprocess.run(["lame", "--quiet", "-b", "160", "gapless.wav", "gapless.mp3"], check=True)
decoded, rate = sf.read("gapless.mp3", dtype="float32")
mono = decoded.mean(axis=1)
step = 97
json.dump(
    {
        "made_by": f"reference.py: lame 3.100 -b 160; soundfile {sf.__version__}.read "
        f"(libsndfile {sf.__libsndfile_version__}, mpg123), mean of the channels",
        "source_frames": FRAMES,
        "frames": int(decoded.shape[0]),
        "sample_rate_hz": int(rate),
        "step": step,
        "mono_every_step": [float(x) for x in mono[::step]],
    },
    open("gapless.json", "w"),
    indent=0,
)
print(FRAMES, decoded.shape, rate)
