"""torch reference backend: runs the original weights; needs the ``train`` extra."""

from __future__ import annotations

import importlib.util

import numpy as np

from compact import roles
from compact.manifest import ModelBundle

NAME = "torch"


def unavailable_reason() -> str | None:
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("safetensors") is None:
        return 'the torch backend needs torch and safetensors: pip install "compact[train]"'
    return None


class TorchBackend:
    name = NAME
    precision = "fp32"

    def __init__(self, bundle: ModelBundle):
        from compact.training.reference import ReferenceModel  # imports torch

        self.bundle = bundle
        self._model = ReferenceModel(bundle.file(roles.WEIGHTS))

    def encode(self, image: np.ndarray) -> np.ndarray:
        return self._model.encode(image)

    def decode(self, symbols: np.ndarray) -> np.ndarray:
        return self._model.decode(symbols)
