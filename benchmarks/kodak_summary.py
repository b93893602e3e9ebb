"""The shipped model on a folder of images (Kodak), next to Pillow's JPEG, WebP and AVIF at comparable sizes.

    python benchmarks/kodak_summary.py --data ../shared/data/kodak [--model default]

COMPACT: real .cpt bytes (header and CRC included), PSNR on 8-bit RGB. JPEG (4:2:0) and WebP at their lowest
quality setting (neither reaches COMPACT's rate), and AVIF at the highest quality whose file is no larger than
COMPACT's file for the same image (quality 0 where even that is larger). Means over the images. A first look,
not the full rate-distortion study.
"""

from __future__ import annotations

import argparse
import io
import statistics
from pathlib import Path

import numpy as np
from PIL import Image

from compact.codec import Codec, as_rgb
from compact.metrics import psnr


def pillow(rgb: np.ndarray, fmt: str, quality: int) -> tuple[int, float]:
    buf = io.BytesIO()
    opts = {"JPEG": {"subsampling": "4:2:0"}, "WEBP": {"method": 6}, "AVIF": {"speed": 6}}[fmt]
    Image.fromarray(rgb).save(buf, format=fmt, quality=quality, **opts)
    out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return len(buf.getvalue()), psnr(rgb, out)


def avif_at_most(rgb: np.ndarray, budget: int) -> tuple[int, float, int]:
    """Highest AVIF quality (0..100) whose file fits in ``budget`` bytes (bisection; size grows with quality)."""
    lo, hi, best = 0, 100, None
    while lo <= hi:
        q = (lo + hi) // 2
        size, quality = pillow(rgb, "AVIF", q)
        if size <= budget:
            best, lo = (size, quality, q), q + 1
        else:
            hi = q - 1
    return best if best else (*pillow(rgb, "AVIF", 0), 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", default="default")
    args = parser.parse_args()
    codec = Codec(args.model, "onnx")
    avif = "AVIF q<=COMPACT size (or q0)"
    rows: dict[str, list[tuple[int, float, int]]] = {"COMPACT": [], "JPEG q1": [], "WebP q0": [], avif: []}
    for path in sorted(args.data.glob("*.png")):
        rgb = as_rgb(path)
        data = codec.compress(rgb)
        rows["COMPACT"].append((len(data), psnr(rgb, codec.decompress_array(data)), rgb.size // 3))
        rows["JPEG q1"].append((*pillow(rgb, "JPEG", 1), rgb.size // 3))
        rows["WebP q0"].append((*pillow(rgb, "WEBP", 0), rgb.size // 3))
        size, quality, _ = avif_at_most(rgb, len(data))
        rows[avif].append((size, quality, rgb.size // 3))
    print(f"{len(rows['COMPACT'])} images from {args.data}")
    print("| codec | mean bytes | mean bpp | mean PSNR (dB) |")
    print("|---|---:|---:|---:|")
    for name, values in rows.items():
        sizes, psnrs, pixels = zip(*values, strict=True)
        bpp = statistics.mean(8 * s / p for s, p in zip(sizes, pixels, strict=True))
        print(f"| {name} | {statistics.mean(sizes):.0f} | {bpp:.4f} | {statistics.mean(psnrs):.2f} |")


if __name__ == "__main__":
    main()
