"""onnxruntime backend: the default everywhere; no torch needed."""

from __future__ import annotations

import sys

import numpy as np

from compact import roles
from compact.manifest import ModelBundle

NAME = "onnx"
INT8_NAME = "onnx-int8"  # float32 encoder, int8 decoder (an opt-in export: compact export --int8-decoder)


def unavailable_reason() -> str | None:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return "the onnx backend needs onnxruntime: pip install onnxruntime"
    return None


def choose_providers(available: list[str], platform: str = sys.platform) -> list[str]:
    """Core ML EP on macOS, CUDA where present, always CPU last as the fallback."""
    preferred = []
    if platform == "darwin" and "CoreMLExecutionProvider" in available:
        preferred.append("CoreMLExecutionProvider")
    if "CUDAExecutionProvider" in available:
        preferred.append("CUDAExecutionProvider")
    return [*preferred, "CPUExecutionProvider"]


class OnnxBackend:
    name = NAME

    def __init__(self, bundle: ModelBundle, providers: list[str] | None = None, threads: int | None = None,
                 int8_decoder: bool = False):  # fmt: skip
        import onnxruntime as ort

        self._ort = ort
        self.name = INT8_NAME if int8_decoder else NAME
        self.precision = "int8" if int8_decoder else "fp32"
        self._decoder_role = roles.ONNX_DECODER_INT8 if int8_decoder else roles.ONNX_DECODER
        self.bundle = bundle
        self.providers = providers or choose_providers(ort.get_available_providers())
        self.threads = threads
        self._sessions: dict[str, object] = {}

    def _session(self, role: str):  # -> onnxruntime.InferenceSession
        # Sessions are created on first use: decompress never loads the encoder.
        if role not in self._sessions:
            options = self._ort.SessionOptions()
            # Memory patterns are planned per input shape and kept: with tiles of several shapes they cost
            # memory (Kodak: 440 -> 288 MB peak RSS without them) and saved no time in our measurements.
            options.enable_mem_pattern = False
            if self.threads:
                options.intra_op_num_threads = self.threads
            path = self.bundle.file(role)
            self._sessions[role] = self._ort.InferenceSession(str(path), options, providers=self.providers)
        return self._sessions[role]

    def encode(self, image: np.ndarray) -> np.ndarray:
        return self._session(roles.ONNX_ENCODER).run(["latent"], {"image": image})[0]

    def decode(self, symbols: np.ndarray) -> np.ndarray:
        return self._session(self._decoder_role).run(["image"], {"bits": symbols})[0]
