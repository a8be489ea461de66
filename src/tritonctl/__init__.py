"""tritonctl: from a training framework to a running Triton Inference Server."""

__version__ = "0.1.0"
