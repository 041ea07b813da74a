"""Held-out evaluation of exported bundles (ONNX via `lexsent.load`): retrieval and similarity tasks."""
