"""The onnxruntime backend stand-in (model.py is what Triton loads)."""
