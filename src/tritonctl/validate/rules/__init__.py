"""Every rule; `tritonctl rules` lists them in this order. The load stage each belongs to is declared on its @rule."""

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
    tensorflow,
    python,
    warmup,
    ensemble_steps,
)
