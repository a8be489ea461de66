"""Every rule, imported in the order Triton 2.51 checks at load time (its first error is the one it reports)."""

from tritonctl.validate.rules import (  # noqa: F401
    parse,
    layout,
    backend,
    scheduling,
    ensemble,
    tensors,
    naming,
    graph,
    versions,
    instances,
    onnx,
    warmup,
    ensemble_steps,
)
