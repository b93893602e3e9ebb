"""Runtime backends behind one protocol; ``auto`` picks the best one this machine can run."""

from __future__ import annotations

from types import ModuleType

from compact.errors import BackendUnavailableError
from compact.manifest import ModelBundle
from compact.runtimes import coreml_backend, onnxruntime_backend, torch_backend
from compact.runtimes.base import Backend

BACKENDS: dict[str, ModuleType] = {
    coreml_backend.NAME: coreml_backend,
    onnxruntime_backend.NAME: onnxruntime_backend,
    onnxruntime_backend.INT8_NAME: onnxruntime_backend,
    torch_backend.NAME: torch_backend,
}
#: ``auto`` tries these in order: Core ML on Apple hardware, then onnxruntime, then the torch reference.
AUTO_ORDER = ("coreml", "onnx", "torch")
_FILES = {"coreml": "coreml_encoder", "onnx": "onnx_encoder", "onnx-int8": "onnx_decoder_int8", "torch": "weights"}


def unavailable_reason(name: str, bundle: ModelBundle) -> str | None:
    if name not in BACKENDS:
        return f"unknown backend {name!r} (choose from auto, {', '.join(BACKENDS)})"
    reason = BACKENDS[name].unavailable_reason()
    if reason is None and not bundle.has(_FILES[name]):
        reason = f"the {name} backend needs {_FILES[name].replace('_', ' ')} files, which model {bundle.root} lacks"
    return reason


def get_backend(name: str, bundle: ModelBundle, threads: int | None = None) -> Backend:
    """``threads`` caps onnxruntime's intra-op threads (batch workers share the cores); others ignore it."""
    if name == "auto":
        reasons = []
        for candidate in AUTO_ORDER:
            reason = unavailable_reason(candidate, bundle)
            if reason is None:
                return get_backend(candidate, bundle, threads)
            reasons.append(reason)
        raise BackendUnavailableError("no backend can run here: " + "; ".join(reasons))
    reason = unavailable_reason(name, bundle)
    if reason is not None:
        raise BackendUnavailableError(reason)
    if name in ("onnx", "onnx-int8"):
        return onnxruntime_backend.OnnxBackend(bundle, threads=threads, int8_decoder=name == "onnx-int8")
    if name == "coreml":
        return coreml_backend.CoreMLBackend(bundle)
    return torch_backend.TorchBackend(bundle)


__all__ = ["AUTO_ORDER", "BACKENDS", "Backend", "get_backend", "unavailable_reason"]
