#!/usr/bin/env python3
"""Convert between simd-adam checkpoint files and PyTorch, with only torch and the standard library.

A simd-adam checkpoint is a safetensors file: an 8-byte little-endian header length, a JSON header
({name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}), then the raw little-endian
tensor bytes. Tensors are named ``state.<id>.<key>`` (optimizer state; ``step`` is a 0-d I64) and
``param.<name>`` (model parameters); ``__metadata__`` holds ``param_groups``, ``scheduler`` and
``metadata`` as JSON strings.

Command line:

    python3 torch_checkpoint.py to-torch   run.safetensors run.pt
    python3 torch_checkpoint.py from-torch run.pt run.safetensors [--trusted]

``to-torch`` writes, with torch.save, a dict with ``optimizer`` (a torch.optim state dict: load it
with ``torch.optim.Adam(...).load_state_dict``, or ``AdamW`` for an AdamW run) and, when the file
holds them, ``model`` (name -> tensor, for ``model.load_state_dict``), ``scheduler`` and
``metadata``. ``from-torch`` reads what torch.save wrote: a bare optimizer state dict, or a dict
with ``optimizer`` (or ``optimizer_state_dict``) and optionally ``model`` (or
``model_state_dict``), ``scheduler`` (or ``lr_scheduler``) and ``metadata``. It loads with
``torch.load(weights_only=True)``, which runs no code from the file; PyTorch before 2.0 cannot
load floats that way, so there pass ``--trusted`` (plain torch.load) for a file you trust.

As a module: ``read_checkpoint(path)`` returns that dict; ``write_checkpoint(path, optimizer,
model=None, scheduler=None, metadata=None)`` writes one.

PyTorch keeps ``step`` as a float32 tensor, exact up to 2**24; larger counts are given as float64
so they stay exact. bfloat16 moments become float32; 8-bit moments (``<key>.codes``, ``.scale``,
``.qmap``, blocks of 256) are dequantized to float32: ``qmap[code] * scale``.
"""
import ctypes
import json
import os
import struct
import sys
import tempfile

import torch

DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}
NAMES = {v: k for k, v in DTYPES.items()}
MAX_HEADER = 100_000_000
BLOCK = 256


def _fail(message):
    raise ValueError(message)


def _read_tensors(path):
    """{name: tensor} and the metadata of a safetensors file, each tensor read into its own buffer."""
    if sys.byteorder != "little":
        _fail("safetensors data is little-endian; this converter runs on little-endian hosts only")
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        if size < 8:
            _fail(f"{path}: {size} bytes, fewer than the 8 of the header length")
        (n,) = struct.unpack("<Q", f.read(8))
        if n > size - 8 or n > MAX_HEADER:
            _fail(f"{path}: the header length says {n} bytes; not a safetensors file (a torch.save file? use from-torch)")
        header = json.loads(f.read(n).decode("utf-8"))
        start = 8 + n
        metadata = header.pop("__metadata__", {}) or {}
        tensors = {}
        for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
            begin, end = info["data_offsets"]
            dtype = DTYPES.get(info["dtype"])
            if dtype is None:
                _fail(f"{path}: tensor {name!r} has dtype {info['dtype']}, which this converter does not handle")
            shape = info["shape"]
            if end == begin:
                tensors[name] = torch.empty(shape, dtype=dtype)
                continue
            buf = bytearray(end - begin)
            f.seek(start + begin)
            if f.readinto(buf) != len(buf):
                _fail(f"{path}: truncated inside tensor {name!r}")
            tensors[name] = torch.frombuffer(buf, dtype=dtype).reshape(shape)
    return tensors, metadata


def _dequantized(parts):
    codes, scale, qmap = parts["codes"], parts["scale"].float(), parts["qmap"].float()
    flat = codes.reshape(-1).long()
    scales = scale.repeat_interleave(BLOCK)[: flat.numel()]
    return (qmap[flat] * scales).reshape(codes.shape)


def read_checkpoint(path):
    """A simd-adam checkpoint as {"optimizer", "model"?, "scheduler"?, "metadata"?}."""
    tensors, meta = _read_tensors(path)
    state, model, quantized = {}, {}, {}
    for name, t in tensors.items():
        kind, _, rest = name.partition(".")
        if kind == "param":
            model[rest] = t
        elif kind == "state":
            pid, _, key = rest.partition(".")
            entry = state.setdefault(int(pid), {})
            if key == "step":
                n = int(t.reshape(-1)[0].item())
                entry["step"] = torch.tensor(float(n), dtype=torch.float32 if n <= 2**24 else torch.float64)
            elif key.endswith((".codes", ".scale", ".qmap")):
                base, _, part = key.rpartition(".")
                quantized.setdefault((int(pid), base), {})[part] = t
            else:
                entry[key] = t.float() if t.dtype == torch.bfloat16 else t
        else:
            _fail(f"{path}: tensor {name!r} is neither state.<id>.<key> nor param.<name>")
    for (pid, key), parts in quantized.items():
        state[pid][key] = _dequantized(parts)
    out = {"optimizer": {"state": state, "param_groups": json.loads(meta["param_groups"])}}
    if model:
        out["model"] = model
    if "scheduler" in meta:
        out["scheduler"] = json.loads(meta["scheduler"])
    if "metadata" in meta:
        out["metadata"] = json.loads(meta["metadata"])
    return out


def _json(value, what):
    def plain(v):
        if isinstance(v, torch.Tensor) and v.numel() == 1:
            return v.item()
        raise TypeError(f"{type(v).__name__} is not JSON-serialisable")
    try:
        return json.dumps(value, default=plain, allow_nan=False)
    except (TypeError, ValueError) as error:
        _fail(f"{what} cannot be stored as JSON: {error}")


def write_checkpoint(path, optimizer, model=None, scheduler=None, metadata=None):
    """Writes a torch.optim state dict (and optionally model tensors by name, a scheduler's state
    dict and any JSON value) as a simd-adam checkpoint, atomically."""
    tensors = []
    for pid, entry in optimizer["state"].items():
        for key, value in entry.items():
            if key == "step":
                n = value.item() if isinstance(value, torch.Tensor) else value
                if n != int(n) or n < 0:
                    _fail(f"state[{pid}].step is {n}, not a non-negative integer")
                tensors.append((f"state.{pid}.step", torch.tensor(int(n), dtype=torch.int64)))
            elif isinstance(value, torch.Tensor):
                tensors.append((f"state.{pid}.{key}", value.detach().to("cpu", torch.float32).contiguous()))
    for name, value in (model.items() if isinstance(model, dict) else (model or [])):
        if value.is_floating_point():
            tensors.append((f"param.{name}", value.detach().to("cpu", torch.float32).contiguous()))
        else:
            print(f"torch_checkpoint: skipping {name} ({value.dtype}): a checkpoint holds float parameters", file=sys.stderr)
    tensors.sort(key=lambda nt: -nt[1].element_size())  # stable: each tensor aligned to its element size
    meta = {"format": "pt", "param_groups": _json(optimizer["param_groups"], "param_groups")}
    if scheduler is not None:
        meta["scheduler"] = _json(scheduler, "the scheduler state dict")
    if metadata is not None:
        meta["metadata"] = _json(metadata, "metadata")
    header, offset = {"__metadata__": meta}, 0
    for name, t in tensors:
        nbytes = t.numel() * t.element_size()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text)
            for _, t in tensors:
                nbytes = t.numel() * t.element_size()
                if nbytes:  # the tensor's own memory, without a copy
                    f.write((ctypes.c_ubyte * nbytes).from_address(t.data_ptr()))
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def _first(d, *keys):
    for key in keys:
        if key in d:
            return d[key]
    return None


def main(argv):
    trusted = "--trusted" in argv
    argv = [a for a in argv if a != "--trusted"]
    if len(argv) != 3 or argv[0] not in ("to-torch", "from-torch"):
        print(__doc__.split("\n\n")[2], file=sys.stderr)
        return 2
    command, source, target = argv
    if command == "to-torch":
        torch.save(read_checkpoint(source), target)
        return 0
    try:
        saved = torch.load(source, map_location="cpu", **({} if trusted else {"weights_only": True}))
    except Exception as error:  # weights_only refuses what could run code; say so rather than run it
        print(f"torch_checkpoint: cannot load {source} with torch.load(weights_only=True): {error}\n"
              "If you trust the file, add --trusted to load it with plain torch.load.", file=sys.stderr)
        return 1
    if not isinstance(saved, dict):
        print(f"torch_checkpoint: {source} holds a {type(saved).__name__}, not a dict", file=sys.stderr)
        return 1
    optimizer = saved if "state" in saved and "param_groups" in saved else _first(saved, "optimizer", "optimizer_state_dict")
    if optimizer is None:
        print(f"torch_checkpoint: {source} holds no optimizer state dict (keys: {', '.join(map(str, saved))})", file=sys.stderr)
        return 1
    write_checkpoint(target, optimizer, model=_first(saved, "model", "model_state_dict"),
                     scheduler=_first(saved, "scheduler", "lr_scheduler"), metadata=saved.get("metadata"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
