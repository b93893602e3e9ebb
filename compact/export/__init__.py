"""Export a trained model to separate ONNX and Core ML encoder/decoder files (needs the ``export`` extra)."""
