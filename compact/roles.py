"""File roles: the keys of a model manifest's ``files`` (the browser runtime reads the same names)."""

WEIGHTS = "weights"  # the trained tensors (safetensors): the torch reference backend
ONNX_ENCODER = "onnx_encoder"
ONNX_DECODER = "onnx_decoder"
ONNX_DECODER_INT8 = "onnx_decoder_int8"  # opt-in quantized decoder (compact export --int8-decoder)
COREML_ENCODER = "coreml_encoder"
COREML_DECODER = "coreml_decoder"
CONTEXT = "context"  # the entropy coder's context model (compact fit-context)
