"""numpy-in, numpy-out wrapper of the torch model: the reference every runtime is compared with."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from compact.training.checkpoint import load_model


class ReferenceModel:
    def __init__(self, weights: Path, device: str = "cpu"):
        self.device = torch.device(device)
        self.model = load_model(weights).eval().to(self.device)

    @torch.no_grad()
    def encode(self, image: np.ndarray) -> np.ndarray:
        return self.model.encoder(torch.from_numpy(image).to(self.device)).cpu().numpy()

    @torch.no_grad()
    def decode(self, symbols: np.ndarray) -> np.ndarray:
        return self.model.decoder(torch.from_numpy(symbols).to(self.device)).cpu().numpy()
