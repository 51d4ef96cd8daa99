"""mir-ref's Python worker: runs one embedding module for the Rust process that started it.

Started as `python -c <this file> <spec JSON>`; needs numpy and pyarrow in that environment.
Every message, both ways, is an 8-byte little-endian length and then one Arrow IPC stream
(a schema, at most one record batch). The module's own prints go to stderr, so only this
protocol is written to the original stdout.

Spec: {"kind": "hear" | "python", "module": name or path to a .py file,
       "model_file": path or null, "sample_rate_hz": int or null, "device": "cpu" | "cuda..."}.
Hello (sent once the module is loaded), schema metadata: status "ok" and info (JSON: sample
rate, layers, the module's file and version), or status "error" and traceback.
Request: one column `audio` (list<float32>, every row a clip of the same length) and metadata
`layers` (JSON list; empty: every layer). Reply: one list<float32> column per layer, a row per
clip, each field's metadata `shape` the clip's output shape ([dim] or [time, dim]).
The worker exits when its stdin closes.
"""

import importlib
import importlib.util
import json
import os
import struct
import sys
import traceback

PROTOCOL = os.fdopen(os.dup(1), "wb")
os.dup2(2, 1)
REQUESTS = sys.stdin.buffer

try:
    import numpy as np
    import pyarrow as pa
except ImportError as e:
    sys.stderr.write(
        f"mir-ref's Python worker needs numpy and pyarrow in {sys.executable}: {e}\n"
        f"install them with: {sys.executable} -m pip install numpy pyarrow\n"
    )
    sys.exit(3)


def send(meta, columns=None):
    """Writes one message: `meta` as schema metadata, `columns` (name -> (array, shape))."""
    fields, arrays = [], []
    for name, (array, shape) in (columns or {}).items():
        fields.append(pa.field(name, pa.list_(pa.float32()), metadata={"shape": json.dumps(shape)}))
        arrays.append(array)
    schema = pa.schema(fields, metadata={k: str(v) for k, v in meta.items()})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        if columns is not None:
            writer.write_batch(pa.record_batch(arrays, schema=schema))
    data = sink.getvalue()
    PROTOCOL.write(struct.pack("<Q", data.size))
    PROTOCOL.write(data)
    PROTOCOL.flush()


def receive():
    """The next request as a (metadata, batch) pair; None when the parent closed stdin."""
    head = REQUESTS.read(8)
    if len(head) < 8:
        return None
    (size,) = struct.unpack("<Q", head)
    data = REQUESTS.read(size)
    reader = pa.ipc.open_stream(pa.py_buffer(data))
    meta = {k.decode(): v.decode() for k, v in (reader.schema.metadata or {}).items()}
    return meta, reader.read_all()


def load_module(spec):
    if spec.endswith(".py"):
        path = os.path.abspath(spec)
        name = os.path.splitext(os.path.basename(path))[0]
        sys.path.insert(0, os.path.dirname(path))
        found = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(found)
        sys.modules[name] = module
        found.loader.exec_module(module)
        return module
    return importlib.import_module(spec)


def to_numpy(x):
    """A framework's tensor (torch: detached, on the CPU) or anything array-like, as float32."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.ascontiguousarray(np.asarray(x, dtype=np.float32))


def as_column(name, x, clips):
    array = to_numpy(x)
    if array.ndim not in (2, 3) or array.shape[0] != clips:
        raise ValueError(
            f"output `{name}` has shape {list(array.shape)}: expected [{clips}, dim] or "
            f"[{clips}, time, dim] for {clips} clips"
        )
    item = int(np.prod(array.shape[1:]))
    offsets = pa.array(np.arange(0, clips * item + 1, max(item, 1), dtype=np.int32)[: clips + 1])
    values = pa.array(array.reshape(-1), type=pa.float32())
    return pa.ListArray.from_arrays(offsets, values), list(array.shape[1:])


class Hear:
    """A module with the HEAR API: load_model, get_scene_embeddings, get_timestamp_embeddings."""

    LAYERS = {"scene": "get_scene_embeddings", "timestamp": "get_timestamp_embeddings"}

    def __init__(self, module, spec):
        self.module = module
        model_file = spec.get("model_file")
        self.model = module.load_model(model_file) if model_file else module.load_model()
        self.sample_rate = int(self.model.sample_rate)
        self.device = spec.get("device") or "cpu"
        try:
            import torch

            self.torch = torch
        except ImportError:
            self.torch = None
        if self.torch is not None and self.device != "cpu" and hasattr(self.model, "to"):
            self.model = self.model.to(self.device)
        if hasattr(self.model, "eval"):
            self.model.eval()
        self.layers = [k for k, f in self.LAYERS.items() if hasattr(module, f)]

    def embed(self, audio, layers):
        x = audio
        if self.torch is not None:
            x = self.torch.from_numpy(audio).to(self.device)
        out = {}
        grad = self.torch.no_grad() if self.torch is not None else _Nothing()
        with grad:
            for layer in layers or self.layers:
                if layer not in self.layers:
                    raise ValueError(f"no layer `{layer}` (the module has {self.layers})")
                result = getattr(self.module, self.LAYERS[layer])(x, self.model)
                out[layer] = result[0] if layer == "timestamp" else result
        return out


class Plain:
    """A module with `embed(audio [batch, samples], sample_rate) -> dict[str, array]`."""

    def __init__(self, module, spec):
        self.module = module
        rate = spec.get("sample_rate_hz") or getattr(module, "SAMPLE_RATE", None)
        if rate is None:
            raise ValueError(
                "no sample rate: set `sample_rate_hz` in the config or SAMPLE_RATE in the module"
            )
        self.sample_rate = int(rate)
        self.layers = None

    def embed(self, audio, layers):
        out = self.module.embed(audio, self.sample_rate)
        if not isinstance(out, dict):
            raise TypeError(f"embed returned {type(out).__name__}, not a dict of arrays")
        missing = [k for k in layers if k not in out]
        if missing:
            raise ValueError(f"embed returned no {missing} (it returned {sorted(out)})")
        return {k: out[k] for k in (layers or out)}


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def main():
    spec = json.loads(sys.argv[1])
    try:
        module = load_module(spec["module"])
        runner = (Hear if spec["kind"] == "hear" else Plain)(module, spec)
        info = {
            "sample_rate": runner.sample_rate,
            "layers": runner.layers,
            "file": getattr(module, "__file__", None),
            "version": str(getattr(module, "__version__", "")),
            "python": sys.version.split()[0],
        }
    except BaseException:
        send({"status": "error", "traceback": traceback.format_exc()})
        return
    send({"status": "ok", "info": json.dumps(info)})
    while (request := receive()) is not None:
        meta, table = request
        try:
            column = table.column("audio").combine_chunks()
            clips = len(column)
            audio = column.flatten().to_numpy(zero_copy_only=False).reshape(clips, -1)
            outputs = runner.embed(audio, json.loads(meta.get("layers", "[]")))
            send({"status": "ok"}, {k: as_column(k, v, clips) for k, v in outputs.items()})
        except Exception:
            send({"status": "error", "traceback": traceback.format_exc()})


main()
