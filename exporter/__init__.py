"""torch → ONNX bundle: pooling inside the graph, graph optimisation, int8 quantisation, parity checks."""
