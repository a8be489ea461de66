"""What each optional part of tritonctl needs installed, said as the exact line that installs it.

The base install (typer, rich, protobuf) is what `validate` of a folder, `rules`, `config` and `version` need. The
rest are extras of the package (pyproject.toml), each checked here when first needed, without importing anything:
a command or flag whose extra is missing exits 3 with `pip install 'tritonctl[EXTRA]'`.
"""

from __future__ import annotations

from tritonctl.errors import MissingDependency

# extra -> the modules it brings that tritonctl imports (keep in step with pyproject.toml's optional-dependencies)
EXTRAS: dict[str, tuple[str, ...]] = {
    "server": ("tritonclient", "numpy", "pytriton"),  # inference, the local Triton, validate --run-python
    "s3": ("botocore",),  # s3:// addresses, sync to and from S3 (AWS profiles and config files: io/s3.py)
    "export": ("tensorflow", "tf2onnx", "torch", "onnx", "onnxruntime", "numpy"),
    "ocr": ("cv2", "PIL", "numpy"),  # the OCR client and the demo (examples/)
    "plot": ("matplotlib",),  # tune --plot
}


def _installed(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(extra: str, what: str, modules: tuple[str, ...] | None = None) -> None:
    """Raise MissingDependency (exit 3, with the pip line) when a module of `extra` that `what` needs is missing."""
    for module in modules if modules is not None else EXTRAS[extra]:
        if not _installed(module):
            raise MissingDependency(f"{what} needs tritonctl's '{extra}' extra ({module} is not installed)",
                                    hint=f"pip install 'tritonctl[{extra}]'")
