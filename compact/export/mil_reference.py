"""A numpy executor for the exported Core ML programs, so exports can be checked on Linux.

Core ML can only predict on macOS. This loads a saved ``.mlpackage`` back into its MIL program
(coremltools' milproto loader, weights from the package's blob file) and executes every op in numpy,
rounding each result to float16 where the program computes in float16 — an emulation of the device's
arithmetic, not a bit-exact copy. Any op it does not know raises ``UnsupportedOpError`` naming it, so a
model change can never pass the check silently.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from compact import roles
from compact.errors import CompactError, ModelError
from compact.manifest import ModelBundle
from compact.runtimes.coreml_shapes import ShapeFit

Array = np.ndarray


class UnsupportedOpError(CompactError):
    """The program contains an op the reference executor does not implement."""


def _conv(x: Array, weight: Array, strides: Array, pad_type: str, pad: Array, dilations: Array, groups: int,
          bias: Array | None = None) -> Array:  # fmt: skip
    """MIL's conv (the program names every input; a convolution without a bias has none)."""
    if pad_type == "valid":
        top = bottom = left = right = 0
    elif pad_type == "custom":
        top, bottom, left, right = (int(p) for p in pad)
    else:
        raise UnsupportedOpError(f"conv with pad_type={pad_type!r}")
    x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    (sh, sw), (dh, dw) = (int(s) for s in strides), (int(d) for d in dilations)
    n, _, h, w = x.shape
    out_c, group_in, kh, kw = weight.shape
    g = int(groups)  # channels split into g groups, each convolved with its own out_c / g filters
    x = x.reshape(n, g, group_in, h, w)
    weight = weight.reshape(g, out_c // g, group_in, kh, kw)
    oh, ow = (h - dh * (kh - 1) - 1) // sh + 1, (w - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, g, out_c // g, oh, ow), dtype=np.float32)
    for i in range(kh):  # one matrix product per kernel tap keeps memory at the size of the output
        for j in range(kw):
            tap = x[..., i * dh : i * dh + sh * (oh - 1) + 1 : sh, j * dw : j * dw + sw * (ow - 1) + 1 : sw]
            out += np.einsum("goc,ngchw->ngohw", weight[..., i, j], tap, optimize=True)
    out = out.reshape(n, out_c, oh, ow)
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1)
    return out


def _pixel_shuffle(x: Array, upscale_factor: int) -> Array:
    r = int(upscale_factor)
    n, c, h, w = x.shape
    return x.reshape(n, c // (r * r), r, r, h, w).transpose(0, 1, 4, 2, 5, 3).reshape(n, c // (r * r), h * r, w * r)


def _slice_by_index(x: Array, begin: Array, end: Array, stride: Array | None = None, begin_mask: Array | None = None,
                    end_mask: Array | None = None, squeeze_mask: Array | None = None) -> Array:  # fmt: skip
    if squeeze_mask is not None and np.any(squeeze_mask):
        raise UnsupportedOpError("slice_by_index with squeeze_mask")
    index = []
    for axis in range(x.ndim):
        start = None if begin_mask is not None and begin_mask[axis] else int(begin[axis])
        stop = None if end_mask is not None and end_mask[axis] else int(end[axis])
        index.append(slice(start, stop, 1 if stride is None else int(stride[axis])))
    return x[tuple(index)]


def _upsample_nearest(x: Array, scale_factor_height: float, scale_factor_width: float) -> Array:
    sh, sw = int(scale_factor_height), int(scale_factor_width)
    if (sh, sw) != (scale_factor_height, scale_factor_width):
        raise UnsupportedOpError(f"upsample_nearest_neighbor by {scale_factor_height}x{scale_factor_width}")
    return np.repeat(np.repeat(x, sh, axis=2), sw, axis=3)


def _cast(x: Array, dtype: str) -> Array:
    if dtype not in ("fp16", "fp32"):
        raise UnsupportedOpError(f"cast to {dtype}")
    return x  # the rounding to the output type is applied for every op below


OPS: dict[str, Callable[..., Array]] = {
    "cast": _cast,
    "conv": _conv,
    "pixel_shuffle": _pixel_shuffle,
    "slice_by_index": _slice_by_index,
    "upsample_nearest_neighbor": _upsample_nearest,
    "abs": lambda x: np.abs(x),
    "greater_equal": lambda x, y: x >= y,
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "mul": lambda x, y: x * y,
    "real_div": lambda x, y: x / y,
    "sqrt": lambda x: np.sqrt(x),
    "rsqrt": lambda x, epsilon=1e-12: 1.0 / np.sqrt(x + epsilon),
    "tanh": lambda x: np.tanh(x),
}


def load_program(mlpackage: Path):  # -> coremltools MIL Program
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import coremltools as ct
        from coremltools.converters.mil.frontend.milproto.load import load as load_milproto

    if not (mlpackage / "Manifest.json").is_file():
        raise ModelError(f"{mlpackage} is not an .mlpackage")
    spec = ct.models.MLModel(str(mlpackage), skip_model_load=True).get_spec()
    weights = mlpackage / "Data" / "com.apple.CoreML" / "weights"
    return load_milproto(spec, spec.specificationVersion, file_weights_dir=str(weights))


def _is_fp16(var) -> bool:  # noqa: ANN001 - a MIL Var
    from coremltools.converters.mil.mil import types

    return var.dtype == types.fp16 or getattr(var.sym_type, "get_primitive", lambda: None)() == types.fp16


class MilProgramExecutor:
    """Runs the ``main`` function of a saved ML program on numpy inputs.

    ``emulate_fp16=False`` skips the float16 rounding (the tests show that the pinned bounds then fail).
    """

    def __init__(self, mlpackage: Path, emulate_fp16: bool = True):
        self.emulate_fp16 = emulate_fp16
        self.program = load_program(Path(mlpackage))
        self.function = self.program.functions["main"]
        for op in self.function.operations:
            if op.op_type != "const" and op.op_type not in OPS:
                raise UnsupportedOpError(f"Core ML op {op.op_type!r} ({op.name}) is not supported by the reference")
        self.fp16 = any(_is_fp16(o) for op in self.function.operations for o in op.outputs if op.op_type != "const")
        #: largest |value| each non-const op produced in the last run, by op name
        self.peaks: dict[str, float] = {}

    def run(self, inputs: dict[str, Array], observe: Callable[[str, Array, bool], None] | None = None,
            ) -> dict[str, Array]:  # fmt: skip
        """Execute the program; ``observe(op name, result, typed fp16)`` sees every op's result."""
        env: dict[str, Array] = {}
        for name, var in self.function.inputs.items():
            value = np.asarray(inputs[name], dtype=np.float32)
            env[name] = value.astype(np.float16).astype(np.float32) if self._rounds(var) else value
        self.peaks = {}
        for op in self.function.operations:
            if op.op_type == "const":
                value = op.outputs[0].val
                env[op.outputs[0].name] = np.asarray(value, dtype=np.float32) if _numeric(value) else value
                continue
            args = {k: env[v.name] for k, v in op.inputs.items()}
            result = np.asarray(OPS[op.op_type](**args), dtype=np.float32)
            out = op.outputs[0]
            if self._rounds(out):
                with np.errstate(over="ignore"):
                    result = result.astype(np.float16).astype(np.float32)
            self.peaks[op.name] = float(np.max(np.abs(result))) if result.size else 0.0
            if observe is not None:
                observe(op.name, result, _is_fp16(out))
            env[out.name] = result
        return {v.name: env[v.name] for v in self.function.outputs}


    def _rounds(self, var) -> bool:  # noqa: ANN001 - a MIL Var
        return self.emulate_fp16 and _is_fp16(var)


def _numeric(value: object) -> bool:
    return isinstance(value, (np.ndarray, np.generic, float, int)) and np.asarray(value).dtype.kind in "fiu"


class MilReferenceBackend:
    """The exported Core ML models, run by :class:`MilProgramExecutor` with the runtime's shape fitting."""

    name = "coreml-reference"

    def __init__(self, bundle: ModelBundle, emulate_fp16: bool = True):
        self.bundle = bundle
        self.encoder = MilProgramExecutor(bundle.file(roles.COREML_ENCODER), emulate_fp16)
        self.decoder = MilProgramExecutor(bundle.file(roles.COREML_DECODER), emulate_fp16)
        self.precision = "fp16" if self.encoder.fp16 else "fp32"
        self.shapes = ShapeFit.from_manifest(bundle.manifest.coreml)

    def encode(self, image: Array) -> Array:
        return self.shapes.encode(image, lambda x: self.encoder.run({"image": x})["latent"])

    def decode(self, symbols: Array) -> Array:
        return self.shapes.decode(symbols, lambda b: self.decoder.run({"bits": b})["image"])
