"""File roles: the keys of a model manifest's ``files`` (the browser runtime reads the same names)."""

WEIGHTS = "weights"  # the trained tensors (safetensors): the torch reference backend
ONNX_ENCODER = "onnx_encoder"
ONNX_DECODER = "onnx_decoder"
ONNX_DECODER_INT8 = "onnx_decoder_int8"  # opt-in quantized decoder (compact export --int8-decoder)
COREML_ENCODER = "coreml_encoder"
COREML_DECODER = "coreml_decoder"
CONTEXT = "context"  # the entropy coder's context model (compact fit-context)
#: an earlier context model of the same networks, kept so the streams coded with it still decode; the role
#: names its id, e.g. "earlier_context_b5e87950" (compact fit-context keeps the table it replaces)
EARLIER_CONTEXT = "earlier_context_"


def earlier_context(context_id: str) -> str:
    return EARLIER_CONTEXT + context_id


def earlier_contexts(files: dict[str, str]) -> list[str]:
    """The roles of a manifest's ``files`` that name kept context tables."""
    return [role for role in files if role.startswith(EARLIER_CONTEXT)]
