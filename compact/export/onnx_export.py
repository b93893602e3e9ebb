"""ONNX export of the two halves with dynamic height and width (opset 20, torch.export based)."""

from __future__ import annotations

from pathlib import Path

import onnx
import torch
from torch import nn

from compact import roles
from compact.config import STRIDE
from compact.export.dynamic import image_dims

OPSET = 20


def export_half(module: nn.Module, example: torch.Tensor, path: Path, input_name: str, output_name: str,
                scale: int, doc: str, metadata: dict[str, str]) -> None:  # fmt: skip
    """Export one half; ``scale`` is the factor between the free dimension and the input's H/W."""
    program = torch.onnx.export(
        module.eval(),
        (example,),
        dynamic_shapes=(image_dims(scale),),
        input_names=[input_name],
        output_names=[output_name],
        opset_version=OPSET,
        dynamo=True,
        verbose=False,
    )
    program.optimize()
    model = program.model_proto
    model.doc_string = doc
    for key, value in sorted(metadata.items()):
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model, full_check=True)
    path.write_bytes(model.SerializeToString())


def export_onnx(encoder: nn.Module, decoder: nn.Module, latent_channels: int, out: Path,
                metadata: dict[str, str]) -> dict[str, Path]:  # fmt: skip
    image = torch.rand(1, 3, 4 * STRIDE, 6 * STRIDE)
    bits = torch.where(torch.rand(1, latent_channels, 4, 6) < 0.5, 1.0, -1.0)
    paths = {roles.ONNX_ENCODER: out / "encoder.onnx", roles.ONNX_DECODER: out / "decoder.onnx"}
    export_half(encoder, image, paths[roles.ONNX_ENCODER], "image", "latent", STRIDE,
                "COMPACT encoder: RGB in [0,1], NCHW, H and W multiples of 16 -> tanh latent", metadata)  # fmt: skip
    export_half(decoder, bits, paths[roles.ONNX_DECODER], "bits", "image", 1,
                "COMPACT decoder: binary code as +-1 floats -> RGB, nominally in [0,1]", metadata)  # fmt: skip
    return paths
