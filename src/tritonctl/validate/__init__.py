"""The rules Triton 2.51 applies when it loads a model, checked offline."""
