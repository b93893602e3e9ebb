"""Core ML export: each half as an ML program (.mlpackage) with enumerated shapes for the Neural Engine."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from compact import roles
from compact.config import STRIDE
from compact.export.dynamic import image_dims
from compact.export.valid_region import ValidRegionDecoder, ValidRegionEncoder
from compact.runtimes.coreml_shapes import DEFAULT_SHAPE, IMAGE_SHAPES

PRECISIONS = ("fp16", "fp32")
MIN_DEPLOYMENT = "macOS13"


def _ct():
    with warnings.catch_warnings():
        # coremltools warns on import that this torch version is newer than it was tested with.
        warnings.simplefilter("ignore")
        import coremltools

    return coremltools


def _program(module: nn.Module, example: torch.Tensor, scale: int) -> torch.export.ExportedProgram:
    program = torch.export.export(module.eval(), (example,), dynamic_shapes=(image_dims(scale),))
    return program.run_decompositions({})


def convert_half(module: nn.Module, channels_in: int, scale: int, input_name: str, output_name: str,
                 precision: str, description: str, input_doc: str, output_doc: str,
                 metadata: dict[str, str]):  # fmt: skip
    """Convert one half; shapes are the image shapes divided by ``STRIDE // scale``."""
    ct = _ct()
    div = STRIDE // scale
    shapes = [(1, channels_in, h // div, w // div) for h, w in IMAGE_SHAPES]
    default = (1, channels_in, DEFAULT_SHAPE[0] // div, DEFAULT_SHAPE[1] // div)
    example = torch.rand(*default) if scale == STRIDE else torch.where(torch.rand(*default) < 0.5, 1.0, -1.0)
    mlmodel = ct.convert(
        _program(module, example, scale),
        inputs=[
            ct.TensorType(name=input_name, shape=ct.EnumeratedShapes(shapes=shapes, default=default), dtype=np.float32)
        ],
        outputs=[ct.TensorType(name=output_name, dtype=np.float32)],
        convert_to="mlprogram",
        compute_precision=ct.precision.FLOAT16 if precision == "fp16" else ct.precision.FLOAT32,
        compute_units=ct.ComputeUnit.ALL,
        minimum_deployment_target=getattr(ct.target, MIN_DEPLOYMENT),
    )
    mlmodel.short_description = description
    mlmodel.author = metadata["author"]
    mlmodel.license = f"{metadata['license']} (weights: see {metadata['model_card']})"
    mlmodel.version = metadata["compact_version"]
    mlmodel.input_description[input_name] = input_doc
    mlmodel.output_description[output_name] = output_doc
    mlmodel.user_defined_metadata.update(metadata)
    return mlmodel


def export_coreml(encoder: nn.Module, decoder: nn.Module, latent_channels: int, out: Path, precision: str,
                  metadata: dict[str, str]) -> dict[str, Path]:  # fmt: skip
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}")
    paths = {roles.COREML_ENCODER: out / "encoder.mlpackage", roles.COREML_DECODER: out / "decoder.mlpackage"}
    enc = convert_half(
        ValidRegionEncoder(encoder.layers), 3, STRIDE, "image", "latent", precision,
        "COMPACT encoder: RGB image to tanh latent; binarize with sign outside the model",
        "RGB in [0,1], NCHW float32, H and W one of the enumerated shapes; pad a smaller image at the bottom "
        "and right with -1: the latent of its top-left cells is then exactly that of the image alone",
        "tanh latent (1, C, H/16, W/16); its sign is the binary code", metadata,
    )  # fmt: skip
    dec = convert_half(
        ValidRegionDecoder(decoder.layers, decoder.offset), latent_channels, 1, "bits", "image", precision,
        "COMPACT decoder: binary code (+1/-1) to RGB image",
        "binary code as +1/-1 float32 (1, C, h, w), h and w one of the enumerated shapes / 16; pad a smaller "
        "code at the bottom and right with 0 (all channels): its pixels are then exactly those of the code alone",
        "RGB (1, 3, 16h, 16w), nominally in [0,1]; clip and round to 8 bits outside", metadata,
    )  # fmt: skip
    enc.save(str(paths[roles.COREML_ENCODER]))
    dec.save(str(paths[roles.COREML_DECODER]))
    return paths
