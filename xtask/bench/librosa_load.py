"""`cargo xtask bench decode_resample`'s reference: librosa's `load` on the same files.

Usage: python librosa_load.py RUNS FILE [FILE ...]
Prints one JSON object: per file, the median seconds of `librosa.load(path, sr=22050)` and of
`librosa.load(path, sr=None)` over RUNS runs, after one untimed warm-up run of each, and the
versions of librosa, soundfile (libsndfile) and soxr.
"""

import json
import sys
import time

import librosa
import soundfile
import soxr


def median_s(path, sr, runs):
    librosa.load(path, sr=sr)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        librosa.load(path, sr=sr)
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def main():
    runs, files = int(sys.argv[1]), sys.argv[2:]
    out = {
        f: {"resampled_s": median_s(f, 22050, runs), "native_s": median_s(f, None, runs)}
        for f in files
    }
    out["versions"] = {
        "librosa": librosa.__version__,
        "libsndfile": soundfile.__libsndfile_version__,
        "soxr": soxr.__version__,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
