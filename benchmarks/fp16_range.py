"""Largest intermediate magnitude of the fp16 Core ML programs on a folder of images (e.g. Kodak).

GDN squares its input, so an activation above 256 overflows fp16 (max 65504) in x*x. This runs the
exported fp16 programs op by op (compact.export.mil_reference) and reports each image's peak |value|,
the op where it occurs, and the margin to fp16's maximum.

    python benchmarks/fp16_range.py --data ../shared/data/kodak [--model DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from compact.codec import as_rgb
from compact.export.bundle import export_model
from compact.export.mil_reference import MilReferenceBackend
from compact.geometry import to_model_input
from compact.manifest import ModelBundle, default_model_dir

FP16_MAX = 65504.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path, help="model folder with an fp16 Core ML export (default: export one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.model
        if root is None:
            root = Path(tmp)
            export_model(default_model_dir() / "weights.safetensors", root, target="coreml", precision="fp16")
        bundle = ModelBundle.load(root)
        backend = MilReferenceBackend(bundle)
        enc, dec = backend.encoder, backend.decoder
        if not enc.fp16:
            raise SystemExit("the model's Core ML export is not fp16")
        overall = 0.0
        print(f"{'image':<14} {'encoder peak':>12} {'at op':<28} {'decoder peak':>12} {'at op':<28}")
        for path in sorted(args.data.glob("*.png")):
            x = to_model_input(as_rgb(path))
            latent = backend.encode(x)
            backend.decode(np.where(latent >= 0, 1.0, -1.0).astype(np.float32))
            e_op, e_peak = max(enc.peaks.items(), key=lambda kv: kv[1])
            d_op, d_peak = max(dec.peaks.items(), key=lambda kv: kv[1])
            overall = max(overall, e_peak, d_peak)
            print(f"{path.name:<14} {e_peak:>12.2f} {e_op:<28} {d_peak:>12.2f} {d_op:<28}")
        print(f"largest intermediate |value|: {overall:.2f}; fp16 max {FP16_MAX:.0f}; margin {FP16_MAX / overall:.0f}x")


if __name__ == "__main__":
    main()
