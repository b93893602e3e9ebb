"""Runtime backends behind one protocol; ``auto`` picks the best one this machine can run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from compact import roles
from compact.errors import BackendUnavailableError
from compact.manifest import ModelBundle
from compact.runtimes import coreml_backend, coreml_reference_backend, onnxruntime_backend, torch_backend
from compact.runtimes.base import Backend


@dataclass(frozen=True)
class Entry:
    """A backend: the module that says whether it can run here, the model file it needs, how to make one."""

    module: ModuleType
    requires: str  # a file role the model must have
    make: Callable[[ModelBundle, int | None], Backend]


BACKENDS: dict[str, Entry] = {
    coreml_backend.NAME: Entry(coreml_backend, roles.COREML_ENCODER, lambda b, t: coreml_backend.CoreMLBackend(b)),
    onnxruntime_backend.NAME: Entry(onnxruntime_backend, roles.ONNX_ENCODER,
                                    lambda b, t: onnxruntime_backend.OnnxBackend(b, threads=t)),
    onnxruntime_backend.INT8_NAME: Entry(onnxruntime_backend, roles.ONNX_DECODER_INT8,
                                         lambda b, t: onnxruntime_backend.OnnxBackend(b, threads=t, int8_decoder=True)),
    torch_backend.NAME: Entry(torch_backend, roles.WEIGHTS, lambda b, t: torch_backend.TorchBackend(b)),
    coreml_reference_backend.NAME: Entry(coreml_reference_backend, roles.COREML_ENCODER,
                                         lambda b, t: coreml_reference_backend.create(b)),
}  # fmt: skip
#: ``auto`` tries these in order: Core ML on Apple hardware, then onnxruntime, then the torch reference.
AUTO_ORDER = ("coreml", "onnx", "torch")
#: How to make the files a backend needs, for the error that says they are missing.
_HOW = {
    roles.ONNX_DECODER_INT8: "compact export --target onnx --int8-decoder PHOTOS",
    roles.COREML_ENCODER: "compact export --target coreml",
    roles.ONNX_ENCODER: "compact export --target onnx",
}


def unavailable_reason(name: str, bundle: ModelBundle) -> str | None:
    if name not in BACKENDS:
        return f"unknown backend {name!r} (choose from auto, {', '.join(BACKENDS)})"
    entry = BACKENDS[name]
    reason = entry.module.unavailable_reason()
    if reason is None and not bundle.has(entry.requires):
        reason = f"the {name} backend needs {entry.requires.replace('_', ' ')} files, which model {bundle.root} lacks"
        if entry.requires in _HOW:
            reason += f" (make them with: {_HOW[entry.requires]})"
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
    return BACKENDS[name].make(bundle, threads)


__all__ = ["AUTO_ORDER", "BACKENDS", "Backend", "get_backend", "unavailable_reason"]
