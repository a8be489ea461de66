"""A smoke inference against a running Triton: inputs shaped from the served model (or given), checked before a
byte is allocated or sent."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from tritonctl.errors import ServerRejected, TritonctlError, UsageError
from tritonctl.io import files
from tritonctl.io.load import NUMPY_TYPES, random_values
from tritonctl.io.triton_client import Endpoint, TritonClient, rejection_kind

DEFAULT_DIM = 32  # what a -1 dimension becomes unless --shape says otherwise
# Triton 2.51's HTTP server keeps a request's size in an int32 ("inference header size should be in range (0, ...)"
# past 2 GiB); tritonctl's smoke requests stay at half that, checked before anything is allocated.
INFER_MAX_BYTES = 1 << 30
_ITEM_BYTES = {"BOOL": 1, "UINT8": 1, "UINT16": 2, "UINT32": 4, "UINT64": 8, "INT8": 1, "INT16": 2, "INT32": 4,
               "INT64": 8, "FP16": 2, "FP32": 4, "FP64": 8, "BF16": 2, "BYTES": 4 + len(b"tritonctl")}


@dataclass
class InferResult:
    model: str
    version: int | None
    outputs: list[tuple[str, list[int], str]]  # name, shape, datatype
    seconds: float
    cast: list[str]  # inputs whose file arrays were cast to the served data type


def parse_shapes(items: list[str]) -> dict[str, list[int]]:
    shapes = {}
    for item in items:
        name, sep, dims = item.rpartition("=")
        try:
            shapes[name] = [int(d) for d in dims.split(",") if d.strip()]
        except ValueError:
            sep = ""
        if not sep or not name or not shapes.get(name) or any(d < 0 for d in shapes[name]):
            raise UsageError(f"--shape '{item}' is not NAME=d1,d2,... with non-negative integers")
    return shapes


def parse_inputs(items: list[str]) -> dict[str, Path]:
    inputs = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise UsageError(f"--input '{item}' is not NAME=FILE.npy")
        inputs[name] = Path(path)
    return inputs


def _allowed(dims: list[int], max_batch: int) -> str:
    parts = [f"1..{max_batch}" if max_batch > 0 and i == 0 else ("any" if d == -1 else str(d))
             for i, d in enumerate(dims)]
    return "[" + ", ".join(parts) + "]"


def request_shape(name: str, dims: list[int], max_batch: int, given: list[int] | None, what: str = "--shape"
                  ) -> list[int]:
    """The shape sent for input `name` whose served shape is `dims` (the batch dimension first when `max_batch`
    > 0): `given`, checked to fit (fixed dimensions equal, the batch within max_batch_size), or the served shape
    with batch 1 and DEFAULT_DIM for each variable dimension."""
    if given is None:
        shape = [DEFAULT_DIM if d == -1 else d for d in dims]
        if max_batch > 0 and shape:
            shape[0] = 1
        return shape
    fits = len(given) == len(dims) and all(d == -1 or g == d for g, d in zip(given, dims))
    if fits and max_batch > 0 and given and not 1 <= given[0] <= max_batch:
        fits = False
    if not fits:
        label = f"{what} {name}={','.join(map(str, given))}" if what == "--shape" else \
            f"{what} (shape {list(given)})"
        raise UsageError(f"{label} does not fit input '{name}': its shape is {_allowed(dims, max_batch)}")
    return list(given)


def _load_array(name: str, path: Path, datatype: str, cast: bool):
    """The .npy array of input `name`, as the served data type: cast when no value changes (or with `cast`)."""
    import numpy as np

    try:
        with files.open_regular(path) as f:
            array = np.load(f, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        reason = files.describe(e) if isinstance(e, OSError) else str(e)
        raise TritonctlError(f"cannot read '{path}' as a .npy array: {reason}") from None
    if datatype == "BYTES" or datatype not in NUMPY_TYPES:
        return array, False
    target = np.dtype(NUMPY_TYPES[datatype])
    if array.dtype == target:
        return array, False
    converted = array.astype(target)
    with np.errstate(invalid="ignore"):
        exact = converted.shape == array.shape and bool(np.array_equal(converted.astype(array.dtype), array,
                                                                        equal_nan=array.dtype.kind == "f"))
    if not exact and not cast:
        raise UsageError(f"'{path}' holds {array.dtype} values; input '{name}' takes {datatype} ({target}), and the "
                         "values change when cast", hint="save the array as " + str(target) + ", or pass --cast")
    return converted, True


def infer(endpoint: Endpoint, model: str, *, version: int | None = None, inputs: dict[str, Path] | None = None,
          shapes: dict[str, list[int]] | None = None, seed: int = 0, cast: bool = False) -> InferResult:
    from tritonctl.io.extras import require

    require("server", "inference", ("tritonclient", "numpy"))
    import numpy as np

    rng = np.random.default_rng(seed)
    label = "" if version is None else str(version)
    with TritonClient(endpoint) as client:
        try:
            meta = client.model_metadata(model, label)
            max_batch = int(client.config(model).get("max_batch_size", 0))
        except ServerRejected as e:
            if rejection_kind(e) == "unknown_model":
                raise ServerRejected(e.reason, status=e.status, full=e.full,
                                     hint=f"load it first: tritonctl load {model}") from None
            raise
        arrays, datatypes, wanted, casts = {}, {}, {}, []
        unknown = set(inputs or {}) | set(shapes or {})
        for spec in meta.get("inputs", []):
            name, dtype = spec["name"], spec["datatype"]
            unknown.discard(name)
            datatypes[name] = dtype
            dims = [int(d) for d in spec["shape"]]
            if inputs and name in inputs:
                arrays[name], was_cast = _load_array(name, inputs[name], dtype, cast)
                request_shape(name, dims, max_batch, list(arrays[name].shape), what=f"'{inputs[name]}'")
                if was_cast:
                    casts.append(name)
                continue
            wanted[name] = request_shape(name, dims, max_batch, (shapes or {}).get(name))
        if unknown:
            names = ", ".join(i["name"] for i in meta.get("inputs", []))
            raise UsageError(f"'{model}' has no input {', '.join(sorted(unknown))} (inputs: {names})")
        size = sum(math.prod(s) * _ITEM_BYTES.get(datatypes[n], 8) for n, s in wanted.items()) + \
            sum(a.nbytes for a in arrays.values())
        if size > INFER_MAX_BYTES:
            raise UsageError(f"the request would carry {size:,} bytes; tritonctl infer sends at most "
                             f"{INFER_MAX_BYTES:,}", hint="give smaller dimensions with --shape NAME=d1,d2,...")
        for name, shape in wanted.items():
            arrays[name] = random_values(rng, datatypes[name], shape)
        outputs = [o["name"] for o in meta.get("outputs", [])]
        start = time.perf_counter()
        results, response = client.infer(model, arrays, datatypes, outputs, label)
        elapsed = time.perf_counter() - start
    out = [(name, list(results[name].shape) if results[name] is not None else [],
            next((o["datatype"] for o in meta["outputs"] if o["name"] == name), "?")) for name in outputs]
    served = response.get("model_version", label)
    return InferResult(model, int(served) if str(served).isdigit() else None, out, elapsed, casts)
