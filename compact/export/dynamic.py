"""Dynamic image sizes for torch.export, shared by the ONNX and Core ML exporters."""

from __future__ import annotations

import torch


def image_dims(scale: int) -> dict[int, object]:
    """Dynamic H and W for torch.export, as multiples of a free dimension (so the exporter knows that H and W
    divide by ``scale``): the shape spec both exporters use."""
    rows, cols = torch.export.Dim("rows", min=1, max=4096), torch.export.Dim("cols", min=1, max=4096)
    return {2: rows * scale, 3: cols * scale}
