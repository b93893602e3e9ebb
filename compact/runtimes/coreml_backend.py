"""Core ML backend (macOS only): runs the exported .mlpackage models via coremltools."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np

from compact import roles
from compact.manifest import ModelBundle
from compact.runtimes.coreml_shapes import ShapeFit

NAME = "coreml"
COMPUTE_UNITS = ("ALL", "CPU_ONLY", "CPU_AND_GPU", "CPU_AND_NE")


def unavailable_reason(platform: str = sys.platform) -> str | None:
    if platform != "darwin":
        return "the coreml backend runs only on macOS (Core ML prediction is not available on this platform)"
    if importlib.util.find_spec("coremltools") is None:
        return 'the coreml backend needs coremltools: pip install "compact[export]"'
    return None


class CoreMLBackend:
    name = NAME

    def __init__(self, bundle: ModelBundle, compute_units: str = "ALL"):
        import coremltools as ct

        if compute_units not in COMPUTE_UNITS:
            raise ValueError(f"compute_units must be one of {COMPUTE_UNITS}")
        self.bundle = bundle
        self.precision = str(bundle.manifest.coreml.get("precision", "fp16"))
        self._ct = ct
        self._units = ct.ComputeUnit[compute_units]
        self._models: dict[str, object] = {}
        self.shapes = ShapeFit.from_manifest(bundle.manifest.coreml)

    def _model(self, role: str):  # -> coremltools.models.MLModel
        if role not in self._models:
            path = self.bundle.file(role)
            self._models[role] = self._ct.models.MLModel(str(path), compute_units=self._units)
        return self._models[role]

    def encode(self, image: np.ndarray) -> np.ndarray:
        model = self._model(roles.COREML_ENCODER)
        return self.shapes.encode(image, lambda x: model.predict({"image": x})["latent"])

    def decode(self, symbols: np.ndarray) -> np.ndarray:
        model = self._model(roles.COREML_DECODER)
        return self.shapes.decode(symbols, lambda b: model.predict({"bits": b})["image"])
